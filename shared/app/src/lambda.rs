//! The Lambda glue around a group's router: the client address from the API Gateway request
//! context, and the container's metrics reported after each request.

use javumbo_api::ClientIp;
use javumbo_api::axum::Router;
use javumbo_api::axum::extract::Request;
use javumbo_api::axum::middleware::{self, Next};
use javumbo_runtime::Reporter;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// The client address API Gateway saw (not a header the client controls).
fn client_ip(req: &Request) -> Option<ClientIp> {
    let ip = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.as_deref(),
        _ => None,
    }?;
    ip.parse().ok().map(ClientIp)
}

async fn tag_client_ip(mut req: Request) -> Request {
    if let Some(ip) = client_ip(&req) {
        req.extensions_mut().insert(ip);
    }
    req
}

/// `routes` as a Lambda serves them: the report runs after every request (the container's
/// counters increment during it), the client address is tagged before.
pub(crate) fn serve_router(routes: Router, reporter: Reporter) -> Router {
    routes
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let reporter = reporter.clone();
            async move {
                let res = next.run(req).await;
                reporter.report();
                res
            }
        }))
        .layer(middleware::map_request(tag_client_ip))
}
