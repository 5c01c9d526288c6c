//! The committed SDL is the schema the code builds.

#[test]
fn committed_schema_graphql_is_the_generated_sdl() {
    let committed = include_str!("../../schema.graphql");
    assert!(
        committed == bookgraph::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}
