//! Lambda function `auth`: javumbo's auth routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), javumbo_app::Error> {
    javumbo_app::run(javumbo_auth::GROUP, javumbo_app::routes::AUTH).await
}
