//! Lambda glue shared by the four HTTP functions: JSON logs, the client address from the API
//! Gateway request context, and `lambda_http::run`.

use axum::Router;
use axum::extract::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use crate::extract::ClientIp;

/// JSON logs (CloudWatch parses them), level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // `try_init`: a second call (tests) must not panic.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line itself.
        .try_init();
}

/// The client address API Gateway saw (not a header the client controls).
pub fn client_ip(req: &Request) -> Option<ClientIp> {
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

/// The router as Lambda serves it (also what the fixture tests drive).
pub fn lambda_router(router: Router) -> Router {
    router.layer(axum::middleware::map_request(tag_client_ip))
}

/// Serve `router` on the Lambda runtime until the container is frozen for good.
pub async fn serve(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_router(router)).await
}
