//! Lambda function `sync`: the route group it serves (its fixture tests drive the same one).
pub const GROUP: javumbo_app::RouteGroup = javumbo_app::RouteGroup::Sync;
