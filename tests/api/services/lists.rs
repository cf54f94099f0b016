//! Listing services: pages, `size`, and the tag and name filters on both backends.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{control_plane, create, fetch, ids};
use crate::harness::{Backend, TestApp, problem};

both_backends!(
    tag_and_name_filters_behave_alike_on_both_backends,
    lists_are_paged_with_size_offset_and_next,
    a_bad_size_is_a_problem,
    lists_filter_by_tags_and_by_name,
);

/// `size` caps a page; `offset` (from the previous page, also inside `next`) continues
/// it; the last page has `next` and `offset` null; together the pages hold every
/// service once, in id order.
async fn lists_are_paged_with_size_offset_and_next(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let mut all = Vec::new();
    for i in 0..5 {
        let s = create(
            &app,
            &format!("{base}/services"),
            &json!({"name": format!("s{i}"), "host": "h"}),
        )
        .await;
        all.push(s["id"].as_str().unwrap().to_string());
    }
    all.sort();

    let first = fetch(&app, &format!("{base}/services?size=2")).await;
    assert_eq!(ids(&first), all[..2]);
    assert_eq!(first["offset"], all[1].as_str());
    assert_eq!(
        first["next"],
        format!("{base}/services?offset={}&size=2", all[1]).as_str()
    );
    let second = fetch(&app, first["next"].as_str().unwrap()).await;
    assert_eq!(ids(&second), all[2..4]);
    let third = fetch(
        &app,
        &format!(
            "{base}/services?size=2&offset={}",
            second["offset"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(ids(&third), all[4..]);
    assert_eq!(third["next"], Value::Null);
    assert_eq!(third["offset"], Value::Null);

    let exact = fetch(&app, &format!("{base}/services?size=5")).await;
    assert_eq!(ids(&exact), all);
    assert_eq!(
        (&exact["next"], &exact["offset"]),
        (&Value::Null, &Value::Null)
    );
    let whole = fetch(&app, &format!("{base}/services")).await;
    assert_eq!(ids(&whole), all, "default size (100) holds them all");
    assert_eq!(
        whole["data"][0],
        fetch(&app, &format!("{base}/services/{}", all[0])).await
    );
    app.shutdown().await;
}

/// `size` outside 1..=1000 or not a number is an RFC 7807 problem naming the parameter.
async fn a_bad_size_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    for size in ["0", "1001", "abc", "-1", "2.5"] {
        let (status, body) = problem(app.get(&format!("{base}/services?size={size}")).await).await;
        assert_eq!(status, 400, "{size}");
        assert_eq!(
            body,
            json!({
                "status": 400,
                "title": "Bad Request",
                "type": "https://httpstatuses.com/400",
                "detail": "Invalid query parameters",
                "invalid_parameters": [{
                    "field": "size",
                    "reason": "must be an integer from 1 to 1000",
                    "source": "query"
                }]
            }),
            "{size}"
        );
    }
    let list = fetch(&app, &format!("{base}/services?size=1000")).await;
    assert_eq!(list["data"], json!([]));
    app.shutdown().await;

    // The bound is `--max-page-size`, not a constant.
    let app = TestApp::spawn_with(backend, |args| args.max_page_size = 3).await;
    let (_, base) = control_plane(&app, "services").await;
    let list = fetch(&app, &format!("{base}/services?size=3")).await;
    assert_eq!(list["data"], json!([]));
    let (status, body) = problem(app.get(&format!("{base}/services?size=4")).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["invalid_parameters"][0]["reason"],
        "must be an integer from 1 to 3"
    );
    app.shutdown().await;
}

/// `tags=a,b` keeps services with all the tags, `tags=a/b` those with any;
/// `filter[name][eq]` matches exactly and `filter[name][contains]` a literal part
/// (`_` and `%` are not wildcards).
async fn lists_filter_by_tags_and_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let mut id = std::collections::HashMap::new();
    for (name, tags) in [
        ("alpha", json!(["a", "b"])),
        ("beta", json!(["a"])),
        ("gamma", json!(["b", "c"])),
        ("x_y", json!(null)),
        ("xzy", json!(["c"])),
    ] {
        let s = create(
            &app,
            &format!("{base}/services"),
            &json!({"name": name, "host": "h", "tags": tags}),
        )
        .await;
        id.insert(name, s["id"].as_str().unwrap().to_string());
    }
    let names = crate::harness::sorted_names;
    for (query, expected) in [
        ("tags=a", vec!["alpha", "beta"]),
        ("tags=a,b", vec!["alpha"]),
        ("tags=b,a", vec!["alpha"]),
        ("tags=a/c", vec!["alpha", "beta", "gamma", "xzy"]),
        ("tags=c/nope", vec!["gamma", "xzy"]),
        ("tags=a,c", vec![]),
        ("tags=nope", vec![]),
        ("filter[name][eq]=beta", vec!["beta"]),
        ("filter[name][eq]=bet", vec![]),
        ("filter%5Bname%5D%5Beq%5D=gamma", vec!["gamma"]),
        ("filter[name][contains]=a", vec!["alpha", "beta", "gamma"]),
        ("filter[name][contains]=_", vec!["x_y"]),
        ("filter[name][contains]=%25", vec![]),
        ("filter[name][contains]=ph&tags=a", vec!["alpha"]),
        ("filter[name][contains]=a&tags=c", vec!["gamma"]),
    ] {
        let list = fetch(&app, &format!("{base}/services?{query}")).await;
        assert_eq!(names(&list), expected, "{query}");
    }
    // Filters combine with paging.
    let page = fetch(&app, &format!("{base}/services?tags=a/c&size=3")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let rest = fetch(&app, page["next"].as_str().unwrap()).await;
    assert!(rest["next"].is_null(), "{rest}");
    let mut paged = ids(&page);
    paged.extend(ids(&rest));
    let mut expected: Vec<String> = ["alpha", "beta", "gamma", "xzy"]
        .iter()
        .map(|n| id[n].clone())
        .collect();
    expected.sort();
    assert_eq!(paged, expected);
    app.shutdown().await;
}

/// Edge cases of the list filters that once differed by backend: an empty tag list is no
/// filter, a repeated tag counts once, tags longer than an index entry work, and
/// `filter[name][contains]` is case-sensitive everywhere.
async fn tag_and_name_filters_behave_alike_on_both_backends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "filters").await;
    let long_tag = "t".repeat(3000);
    for (name, tags) in [
        ("Alpha", vec!["a".to_string()]),
        ("beta", vec![long_tag.clone()]),
    ] {
        let response = app
            .post_json(
                &format!("{base}/services"),
                &json!({"name": name, "host": "example.com", "tags": tags}),
            )
            .await;
        assert_eq!(response.status(), 201, "{name}");
    }
    let names = |query: String| {
        let app = &app;
        let base = base.clone();
        async move {
            let response = app.get(&format!("{base}/services?{query}")).await;
            assert_eq!(response.status(), 200, "{query}");
            let list: Value = response.json().await.unwrap();
            crate::harness::sorted_names(&list)
        }
    };
    assert_eq!(names("tags=,".into()).await, ["Alpha", "beta"]);
    assert_eq!(names("tags=/".into()).await, ["Alpha", "beta"]);
    assert_eq!(names("tags=a,a".into()).await, ["Alpha"]);
    assert_eq!(names(format!("tags={long_tag}")).await, ["beta"]);
    assert_eq!(
        names("filter[name][contains]=alp".into()).await,
        Vec::<String>::new()
    );
    assert_eq!(names("filter[name][contains]=Alp".into()).await, ["Alpha"]);
}
