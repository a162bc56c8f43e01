//! Lambda function `crud`: javumbo's crud routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), javumbo_app::Error> {
    javumbo_app::run(javumbo_crud::GROUP, javumbo_app::routes::CRUD).await
}
