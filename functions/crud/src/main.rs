//! Lambda function `crud`: javumbo's crud routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    javumbo_crud::run().await
}
