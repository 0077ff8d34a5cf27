//! The formula subset: parsing, evaluation and typed results.

use super::*;

fn run(src: &str) -> Value {
    let expr = parse(src, |p| p == "Name" || p == "Points").unwrap();
    let prop = |p: &str| match p {
        "Name" => Val::Str("Auth".into()),
        _ => Val::Num(3.0),
    };
    result_json(eval(&expr, &prop))
}

#[test]
fn the_subset_evaluates_to_typed_results() {
    assert_eq!(
        run("upper(prop(\"Name\")) + \"!\""),
        json!({"type": "string", "string": "AUTH!"})
    );
    assert_eq!(
        run("prop(\"Points\") * 2 + 1"),
        json!({"type": "number", "number": 7})
    );
    assert_eq!(
        run("prop(\"Points\") > 2"),
        json!({"type": "boolean", "boolean": true})
    );
    assert_eq!(
        run("if(prop(\"Points\") >= 5, \"big\", concat(\"small \", format(prop(\"Points\"))))"),
        json!({"type": "string", "string": "small 3"})
    );
    assert_eq!(
        run("length(prop(\"Name\")) / 0"),
        json!({"type": "string", "string": null})
    );
}

#[test]
fn bad_expressions_and_unknown_properties_are_refused() {
    for bad in ["prop(\"Nope\")", "upper(", "nope(1)", "1 +", "\"open"] {
        assert!(parse(bad, |p| p == "Name").is_err(), "{bad}");
    }
}
