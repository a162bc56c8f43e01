//! Lambda function `export`: javumbo's export routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    javumbo_export::run().await
}
