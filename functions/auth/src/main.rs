//! Lambda function `auth`: javumbo's auth routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    javumbo_auth::run().await
}
