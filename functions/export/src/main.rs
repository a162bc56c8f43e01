//! Lambda function `export`: javumbo's export routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), javumbo_app::Error> {
    javumbo_app::run(javumbo_export::GROUP, javumbo_app::routes::EXPORT).await
}
