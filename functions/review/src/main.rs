//! Lambda function `review`: javumbo's review routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    javumbo_review::run().await
}
