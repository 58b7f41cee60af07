//! Every configuration rule, table-driven: what loads, and for what does not, the key named.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::config::Rule;
use crate::mode::Mode;
use crate::policy::Policy;

/// The policy a request to `host` and `path` selects; it must not be ambiguous.
fn selected<'c>(c: &'c Config, host: &str, path: &str) -> &'c Policy {
    match c.select(Some(host.as_bytes()), Some(path.as_bytes())) {
        Ok((_, policy)) => policy,
        Err(a) => panic!("{host} {path}: {}", a.describe(c)),
    }
}

/// The first refusal of `json`.
fn err(json: &str) -> ConfigError {
    errors(json).into_vec().remove(0)
}

fn errors(json: &str) -> ConfigErrors {
    match Config::from_json(json) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e,
    }
}

#[test]
fn minimal_and_full_configs_load() {
    Config::from_json(r#"{"allow_origins":["https://app.example.com"]}"#).unwrap();
    Config::from_json(r#"{"allow_origin_regexes":["https://pr-[0-9]+\\.example\\.com"]}"#).unwrap();
    // Any method with credentials: the requested method is echoed.
    Config::from_json(r#"{"allow_origins":["https://a.com"],"allow_credentials":true,"allow_methods":["*"]}"#).unwrap();
    let full = r#"{
        "allow_origins": ["https://app.example.com", "https://*.example.org", "http://localhost:*"],
        "allow_origin_regexes": ["https://[a-z]+\\.example\\.net"],
        "allow_null_origin": false,
        "allow_methods": ["GET", "PUT", "patch"],
        "allow_headers": ["authorization", "x-request-id"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": true,
        "max_age": 600,
        "allow_private_network": true,
        "preflight_success_status": 200,
        "unmatched_preflight": "forward",
        "mode": "shadow",
        "policies": [
            {"match": {"hosts": ["api.example.com", "*.internal.example.com"], "path_prefixes": ["/v1/"]},
             "allow_origins": ["*"], "allow_credentials": false, "allow_headers": ["*"]}
        ]
    }"#;
    let c = Config::from_json(full).unwrap();
    assert_eq!(c.routes().len(), 1);
    assert!(c.needs_authority() && c.needs_path());
}

#[test]
fn errors_name_the_key_and_the_rule() {
    // (config, key, words the reason must contain)
    let cases: &[(&str, &str, Rule, &str)] = &[
        ("", "(root)", Rule::Size, "empty"),
        ("[]", "(root)", Rule::Syntax, "JSON object"),
        ("null", "(root)", Rule::Syntax, "JSON object"),
        ("[null,[\"https://a.com\"]]", "(root)", Rule::Syntax, "JSON object"),
        ("{", "(root)", Rule::Syntax, "EOF"),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":[["a.com"],["/api"]],"allow_origins":["https://b.com"]}]}"#,
            "policies[0].match",
            Rule::Syntax,
            "JSON object",
        ),
        (r#"{"allow_origins":["https://a.com"]} x"#, "(root)", Rule::Syntax, "trailing"),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[[{"hosts":["a"]}]]}"#,
            "policies[0]",
            Rule::Syntax,
            "JSON object",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":[["a"]]}]}"#,
            "policies[0].match",
            Rule::Syntax,
            "JSON object",
        ),
        (r#"{"allow_orgins":["https://a.com"]}"#, "allow_orgins", Rule::Syntax, "unknown field"),
        (r#"{"allow_origins":"https://a.com"}"#, "allow_origins", Rule::Syntax, "invalid type"),
        (r#"{"allow_origins":[1]}"#, "allow_origins[0]", Rule::Syntax, "invalid type"),
        (
            r#"{"allow_origins":["https://a.com"],"allow_credentials":"yes"}"#,
            "allow_credentials",
            Rule::Syntax,
            "invalid type",
        ),
        (r#"{"allow_origins":["https://a.com"],"max_age":"600"}"#, "max_age", Rule::Syntax, "invalid type"),
        (r#"{"allow_origins":["https://a.com"],"mode":"audit"}"#, "mode", Rule::Syntax, "invalid value"),
        (
            r#"{"allow_origins":["https://a.com"],"unmatched_preflight":"drop"}"#,
            "unmatched_preflight",
            Rule::Syntax,
            "invalid value",
        ),
        (r#"{}"#, "allow_origins", Rule::Required, "required"),
        (r#"{"allow_origins":[]}"#, "allow_origins", Rule::Required, "empty"),
        (r#"{"allow_origins":["https://a.com/"]}"#, "allow_origins[0]", Rule::Origin, "trailing slash"),
        (r#"{"allow_origins":["https://ok.com","null"]}"#, "allow_origins[1]", Rule::Origin, "allow_null_origin"),
        (
            r#"{"allow_origins":["*"],"allow_credentials":true}"#,
            "allow_origins[0]",
            Rule::WildcardWithCredentials,
            "credentials",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_credentials":true,"expose_headers":["*"]}"#,
            "expose_headers[0]",
            Rule::WildcardWithCredentials,
            "credentials",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_methods":["GET","TRACE"]}"#,
            "allow_methods[1]",
            Rule::Method,
            "forbidden",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_methods":["connect"]}"#,
            "allow_methods[0]",
            Rule::Method,
            "forbidden",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_methods":["TRACK"]}"#,
            "allow_methods[0]",
            Rule::Method,
            "forbidden",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_methods":["GET, PUT"]}"#,
            "allow_methods[0]",
            Rule::Method,
            "token",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_headers":["x ok"]}"#,
            "allow_headers[0]",
            Rule::HeaderName,
            "token",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_headers":["cookie"]}"#,
            "allow_headers[0]",
            Rule::HeaderName,
            "forbidden",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"expose_headers":["set-cookie"]}"#,
            "expose_headers[0]",
            Rule::HeaderName,
            "forbidden",
        ),
        (r#"{"allow_origins":["https://a.com"],"max_age":86401}"#, "max_age", Rule::MaxAge, "86400"),
        (r#"{"allow_origins":["https://a.com"],"max_age":-2}"#, "max_age", Rule::MaxAge, "-1 is read as 0"),
        (
            r#"{"allow_origins":["https://a.com"],"allow_headers":["x-a","Access-Control-Allow-Origin"]}"#,
            "allow_headers[1]",
            Rule::HeaderName,
            "response-only",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"allow_headers":["access-control-max-age"]}"#,
            "allow_headers[0]",
            Rule::HeaderName,
            "response-only",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"expose_headers":["x-a","Origin"]}"#,
            "expose_headers[1]",
            Rule::HeaderName,
            "request-only",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"expose_headers":["access-control-request-private-network"]}"#,
            "expose_headers[0]",
            Rule::HeaderName,
            "request-only",
        ),
        (
            r#"{"allow_origins":["https://a.com","https://xn--f.example"]}"#,
            "allow_origins[1]",
            Rule::Origin,
            "punycode",
        ),
        (
            r#"{"allow_origins":["http://[::ffff:127.127.127.127]:90"]}"#,
            "allow_origins[0]",
            Rule::Origin,
            "`[::ffff:7f7f:7f7f]`",
        ),
        (r#"{"allow_origins":["http://[0:0:0:0:0:0:0:1]:4000"]}"#, "allow_origins[0]", Rule::Origin, "`[::1]`"),
        (
            r#"{"allow_origins":["https://a.com"],"preflight_success_status":201}"#,
            "preflight_success_status",
            Rule::Status,
            "204 or 200",
        ),
        (r#"{"allow_origin_regexes":["("]}"#, "allow_origin_regexes[0]", Rule::Regex, "("),
        (r#"{"allow_origins":["https://a.com"],"match":{"hosts":["a"]}}"#, "match", Rule::Placement, "policies"),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"allow_origins":["https://b.com"]}]}"#,
            "policies[0].match",
            Rule::Required,
            "required",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{}}]}"#,
            "policies[0].match",
            Rule::Required,
            "hosts or path_prefixes",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{"hosts":["a.com:443"]}}]}"#,
            "policies[0].match.hosts[0]",
            Rule::Host,
            "ports",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{"path_prefixes":["api"]}}]}"#,
            "policies[0].match.path_prefixes[0]",
            Rule::PathPrefix,
            "/",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{"hosts":["a.com"]},"policies":[]}]}"#,
            "policies[0].policies",
            Rule::Placement,
            "nest",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{"hosts":["a.com"]},"allow_origins":["ftp://x.com"]}]}"#,
            "policies[0].allow_origins[0]",
            Rule::Origin,
            "scheme",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{"hosts":["a.com"]},"bogus":1}]}"#,
            "policies[0].bogus",
            Rule::Syntax,
            "unknown field",
        ),
        (
            r#"{"allow_origins":["https://a.com"],"policies":[{"match":{"hosts":["a.com"],"paths":[]}}]}"#,
            "policies[0].match.paths",
            Rule::Syntax,
            "unknown field",
        ),
        // Inherited values are checked in the policy that inherits them.
        (
            r#"{"allow_origins":["*"],"policies":[{"match":{"hosts":["a.com"]},"allow_credentials":true}]}"#,
            "policies[0].allow_origins[0]",
            Rule::WildcardWithCredentials,
            "credentials",
        ),
    ];
    for (json, key, rule, words) in cases {
        let e = err(json);
        assert_eq!(e.key, *key, "{json}: {e}");
        assert_eq!(e.rule, *rule, "{json}: {e}");
        assert!(e.to_string().contains(words), "{json}: `{e}` should mention {words:?}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
}

#[test]
fn every_refusal_is_reported_in_key_order() {
    let all = errors(
        r#"{"allow_origins":["https://a.com/","*"],"allow_credentials":true,"allow_methods":["TRACE"],
            "max_age":-5,"policies":[{"match":{"hosts":["a.com:1"]},"allow_headers":["cookie"]},{}]}"#,
    );
    let got: Vec<(&str, Rule)> = all.iter().map(|e| (e.key.as_str(), e.rule)).collect();
    assert_eq!(
        got,
        [
            ("allow_origins[0]", Rule::Origin),
            ("allow_origins[1]", Rule::WildcardWithCredentials),
            ("allow_methods[0]", Rule::Method),
            ("max_age", Rule::MaxAge),
            // Inherited values are checked again in each entry that inherits them.
            ("policies[0].allow_origins[0]", Rule::Origin),
            ("policies[0].allow_origins[1]", Rule::WildcardWithCredentials),
            ("policies[0].allow_methods[0]", Rule::Method),
            ("policies[0].allow_headers[0]", Rule::HeaderName),
            ("policies[0].max_age", Rule::MaxAge),
            ("policies[0].match.hosts[0]", Rule::Host),
            ("policies[1].allow_origins[0]", Rule::Origin),
            ("policies[1].allow_origins[1]", Rule::WildcardWithCredentials),
            ("policies[1].allow_methods[0]", Rule::Method),
            ("policies[1].max_age", Rule::MaxAge),
            ("policies[1].match", Rule::Required),
        ]
        .as_slice()
    );
    assert!(all.to_string().lines().count() == all.len(), "one line per refusal");
}

#[test]
fn max_age_minus_one_is_sent_as_zero() {
    // `Access-Control-Max-Age` is a non-negative integer: for `-1` the Fetch Standard (and
    // Safari) falls back to the default 5 s, so "no caching" is sent as `0`.
    for (age, sent) in [(-1, "0"), (0, "0"), (1, "1"), (600, "600"), (86_400, "86400")] {
        let c = Config::from_json(&format!(r#"{{"allow_origins":["https://a.com"],"max_age":{age}}}"#)).unwrap();
        assert_eq!(c.default_policy().max_age(), Some(sent), "max_age {age}");
    }
    // Inherited by a policy, too.
    let c = Config::from_json(
        r#"{"allow_origins":["https://a.com"],"max_age":-1,"policies":[{"match":{"hosts":["a.com"]}}]}"#,
    )
    .unwrap();
    assert_eq!(c.routes()[0].policy.max_age(), Some("0"));
}

#[test]
fn long_subdomain_patterns_are_refused() {
    let suffix = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "a".repeat(60)); // 252 characters
    assert_eq!(suffix.len(), 252);
    let e = err(&format!(r#"{{"allow_origins":["https://a.com","https://*.{suffix}"]}}"#));
    assert_eq!(e.key, "allow_origins[1]");
    assert!(e.reason.contains("longer than 253"), "{e}");
    Config::from_json(&format!(r#"{{"allow_origins":["https://*.{}"]}}"#, &suffix[1..])).unwrap();
}

#[test]
fn ipv4_mapped_ipv6_origins_are_allowed_as_browsers_send_them() {
    let c = Config::from_json(r#"{"allow_origins":["http://[::ffff:7f7f:7f7f]:90"]}"#).unwrap();
    let p = c.default_policy();
    assert!(p.check_origin(b"http://[::ffff:7f7f:7f7f]:90").is_some());
    assert!(p.check_origin(b"http://[::ffff:127.127.127.127]:90").is_none());
}

#[test]
fn credentialed_origins_must_be_secure() {
    let with_credentials = |origin: &str| format!(r#"{{"allow_origins":["{origin}"],"allow_credentials":true}}"#);
    for ok in [
        "https://a.com",
        "http://localhost:3000",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:*",
        "https://*.example.com",
        "https://*.example.co.uk",
        "https://*.user.github.io",
    ] {
        Config::from_json(&with_credentials(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (bad, why) in [
        ("http://a.com", "http://"),
        ("http://127.evil.com", "http://"),
        ("http://*.example.com", "http://"),
        ("https://*.com", "public suffix"),
        ("https://*.co.uk", "public suffix"),
        ("https://*.github.io", "public suffix"),
        ("https://*.s3.amazonaws.com", "public suffix"),
    ] {
        let e = err(&with_credentials(bad));
        assert_eq!(e.key, "allow_origins[0]");
        assert!(e.reason.contains(why), "{bad}: {e}");
    }
    // Loud opt-ins, and the same patterns without credentials, load.
    Config::from_json(r#"{"allow_origins":["http://a.com"],"allow_credentials":true,"dangerously_allow_insecure_origins_with_credentials":true}"#).unwrap();
    Config::from_json(r#"{"allow_origins":["https://*.github.io"],"allow_credentials":true,"dangerously_allow_public_suffix_wildcards_with_credentials":true}"#).unwrap();
    Config::from_json(r#"{"allow_origins":["http://a.com","https://*.github.io"]}"#).unwrap();
}

#[test]
fn policies_inherit_key_by_key_and_origins_as_a_group() {
    let c = Config::from_json(
        r#"{
        "allow_origins": ["https://app.example.com"],
        "allow_methods": ["PUT"],
        "max_age": 60,
        "policies": [
            {"match": {"path_prefixes": ["/public/"]}, "allow_origins": ["*"]},
            {"match": {"hosts": ["admin.example.com"]}, "allow_origin_regexes": ["https://admin-[0-9]+\\.example\\.com"], "max_age": 5},
            {"match": {"hosts": ["*.example.net"], "path_prefixes": ["/api/", "/v2/"]}, "allow_methods": ["DELETE"]}
        ]
    }"#,
    )
    .unwrap();
    let pick = |host: &str, path: &str| selected(&c, host, path);
    assert_eq!(pick("x.com", "/public/a").name(), "policies[0]");
    assert_eq!(pick("admin.example.com:8443", "/x").name(), "policies[1]");
    assert_eq!(pick("a.example.net", "/v2/x").name(), "policies[2]");
    assert_eq!(pick("example.net", "/v2/x").name(), "top level", "apex excluded");
    assert_eq!(pick("a.example.net", "/v3/x").name(), "top level");
    assert_eq!(pick("x.com", "/private").name(), "top level");
    assert_eq!(c.select(None, None).unwrap().1.name(), "top level");

    let public = pick("x.com", "/public/a");
    assert!(public.check_origin(b"https://anyone.example").is_some());
    assert!(public.allows_method(b"PUT"), "allow_methods inherited");
    assert_eq!(public.max_age(), Some("60"));

    let admin = pick("admin.example.com", "/");
    assert!(admin.check_origin(b"https://admin-7.example.com").is_some());
    assert!(admin.check_origin(b"https://app.example.com").is_none(), "origin keys replace the parent's as a group");
    assert_eq!(admin.max_age(), Some("5"));

    let api = pick("a.example.net", "/api/x");
    assert!(api.check_origin(b"https://app.example.com").is_some(), "origins inherited");
    assert!(api.allows_method(b"DELETE") && !api.allows_method(b"PUT"), "allow_methods replaced");
}

#[test]
fn top_level_may_allow_nothing_when_policies_exist() {
    let c =
        Config::from_json(r#"{"policies":[{"match":{"path_prefixes":["/api/"]},"allow_origins":["https://a.com"]}]}"#)
            .unwrap();
    assert!(c.select(None, Some(b"/other")).unwrap().1.check_origin(b"https://a.com").is_none());
    assert!(c.select(None, Some(b"/api/x")).unwrap().1.check_origin(b"https://a.com").is_some());
    // ...but a policy must allow something.
    assert_eq!(err(r#"{"policies":[{"match":{"path_prefixes":["/api/"]}}]}"#).key, "policies[0].allow_origins");
}

#[test]
fn only_static_policies_answer_without_vary() {
    let policy = |json: &str| Config::from_json(json).unwrap();
    let exact = policy(r#"{"allow_origins":["https://a.com"]}"#);
    assert!(exact.default_policy().varies_by_origin() && !exact.default_policy().is_static());
    let any = policy(r#"{"allow_origins":["*"]}"#);
    assert!(any.default_policy().is_static() && !any.default_policy().varies_by_origin());
    let nothing = policy(r#"{"policies":[{"match":{"hosts":["a.com"]},"allow_origins":["https://a.com"]}]}"#);
    assert!(!nothing.default_policy().varies_by_origin(), "a policy that allows no origin answers all alike");
    let null_only = policy(r#"{"allow_null_origin":true}"#);
    assert!(null_only.default_policy().varies_by_origin());
}

#[test]
fn mode_off_at_the_top_level_is_not_inherited() {
    let c = Config::from_json(
        r#"{"mode":"off","policies":[
            {"match":{"hosts":["a.example.com"],"path_prefixes":["/legacy/"]},"mode":"off"},
            {"match":{"hosts":["a.example.com"]},"allow_origins":["https://app.example.com"]},
            {"match":{"hosts":["s.example.com"]},"allow_origins":["https://app.example.com"],"mode":"shadow"}
        ]}"#,
    )
    .unwrap();
    let pick = |host: &str, path: &str| selected(&c, host, path);
    assert_eq!(pick("b.example.com", "/x").mode(), Mode::Off, "no entry: the top level's off");
    assert_eq!(pick("a.example.com", "/x").mode(), Mode::Enforce, "an entry without mode is enforced");
    assert_eq!(pick("a.example.com", "/legacy/x").mode(), Mode::Off, "a carve-out placed first");
    assert_eq!(pick("a.example.com", "/legacy/x").name(), "policies[0]");
    assert_eq!(pick("s.example.com", "/").mode(), Mode::Shadow);
    // Shadow is inherited like every other key.
    let c = Config::from_json(
        r#"{"mode":"shadow","allow_origins":["https://a.com"],"policies":[{"match":{"hosts":["x.com"]}}]}"#,
    )
    .unwrap();
    assert_eq!(c.select(Some(b"x.com"), None).unwrap().1.mode(), Mode::Shadow);
}

#[test]
fn mode_off_needs_no_origins_but_checks_what_is_set() {
    assert!(Config::from_json(r#"{"mode":"off"}"#).is_ok(), "a filter that does nothing");
    assert!(Config::from_json(r#"{"mode":"off","policies":[{"match":{"hosts":["a.com"]},"mode":"off"}]}"#).is_ok());
    assert_eq!(
        err(r#"{"mode":"off","policies":[{"match":{"hosts":["a.com"]}}]}"#).key,
        "policies[0].allow_origins",
        "an enforced entry still needs origins"
    );
    assert_eq!(err(r#"{"mode":"off","allow_origins":["https://a.com/"]}"#).key, "allow_origins[0]");
    assert_eq!(err(r#"{"mode":"off","max_age":-5}"#).key, "max_age");
    let e = err(r#"{"allow_origins":["*"],"mode":"pass"}"#);
    assert_eq!(e.key, "mode");
    assert!(e.reason.contains("enforce") && e.reason.contains("off"), "{}", e.reason);
}

#[test]
fn path_prefixes_match_the_normalized_path() {
    let c = Config::from_json(
        r#"{"allow_origins":["https://app.example.com"],"policies":[
            {"match":{"path_prefixes":["/public/"]},"allow_origins":["*"]},
            {"match":{"hosts":["api.example.com"]},"allow_origins":["https://api-ui.example.com"]}
        ]}"#,
    )
    .unwrap();
    let pick = |host: &str, path: &str| selected(&c, host, path).name().to_owned();
    assert_eq!(pick("x.com", "/public/a?b=/admin"), "policies[0]");
    assert_eq!(pick("x.com", "/public/./a"), "policies[0]", "as sent and resolved, it is under /public/");
    assert_eq!(pick("x.com", "/public/%61"), "policies[0]");
    assert_eq!(pick("x.com", "/other/../admin"), "top level");
    assert_eq!(pick("x.com", "/a/%2e%2e/admin"), "top level");
    for ambiguous in ["/admin/../public/a", "/%70ublic/a", "/../public/x", "/public/../admin", "/public/%2e%2e/admin"] {
        assert!(
            c.select(Some(b"x.com"), Some(ambiguous.as_bytes())).is_err(),
            "{ambiguous}: as sent and resolved differ"
        );
    }
    assert_eq!(pick("x.com", "/api/x%2Fy"), "top level", "every reading selects the top level");
    assert_eq!(pick("x.com", "/public/a%2Fb"), "policies[0]", "every reading selects policies[0]");
    assert_eq!(pick("API.Example.COM:8443", "/x"), "policies[1]", "hosts compare without port and case");
}

#[test]
fn readings_that_select_different_policies_are_ambiguous() {
    let c = Config::from_json(
        r#"{"mode":"off","policies":[
            {"match":{"path_prefixes":["/public/"]},"allow_origins":["*"]},
            {"match":{"path_prefixes":["/api/"]},"allow_origins":["https://app.example.com"],"allow_credentials":true},
            {"match":{"hosts":["api.example.com"]},"allow_origins":["https://api-ui.example.com"]}
        ]}"#,
    )
    .unwrap();
    let ambiguous = |host: &str, path: &str| match c.select(Some(host.as_bytes()), Some(path.as_bytes())) {
        Ok((_, p)) => panic!("{host} {path} selected {}", p.name()),
        Err(a) => a,
    };
    for path in [
        "/public/..%2Fadmin",
        "/public/..%5cadmin",
        "/public/..\\admin",
        "/public/..;/admin",
        "/public/%2e%2e;/admin",
        "/public//../admin",
        "/API/x",
        "/Public/x",
        "/api/x%zz",
        "/api/%",
        "/api/x%2",
        "/x%zz",
    ] {
        let a = ambiguous("x.com", path);
        assert_eq!((a.part, a.mode), (AmbiguousPart::Path, Mode::Enforce), "{path}");
    }
    for host in ["a.example.com:1:2", "api.example.com:8443:", "api.example.com.", "api%2eexample.com"] {
        let a = ambiguous(host, "/x");
        assert_eq!((a.part, a.mode), (AmbiguousPart::Host, Mode::Enforce), "{host}");
    }
    assert_eq!(
        ambiguous("x.com", "/public/..;/admin").describe(&c).to_string(),
        "ambiguous path: its readings select policies[0] and top level"
    );
    // Readings that agree select as before, and hosts no entry could apply to are not read.
    assert_eq!(selected(&c, "x.com", "/api/x%2Fy").name(), "policies[1]");
    assert_eq!(selected(&c, "x.com", "/other/x;y").name(), "top level");
    assert_eq!(selected(&c, "x.com", "/other//x").name(), "top level");
    assert_eq!(selected(&c, "x.com", "/other/X").name(), "top level");
}

#[test]
fn uninterpretable_parts_deny_only_where_a_scoped_entry_could_apply() {
    let hosts_only = Config::from_json(
        r#"{"allow_origins":["https://app.example.com"],"policies":[
            {"match":{"hosts":["api.example.com"],"path_prefixes":["/v1/"]},"allow_origins":["*"]}
        ]}"#,
    )
    .unwrap();
    // The path cannot be read, but the entry needs api.example.com: it cannot apply to x.com.
    assert_eq!(selected(&hosts_only, "x.com", "/v1/%zz").name(), "top level");
    assert!(hosts_only.select(Some(b"api.example.com"), Some(b"/v1/%zz")).is_err());
    // A host that cannot be read does not matter to a configuration without host entries.
    let paths_only = Config::from_json(
        r#"{"allow_origins":["https://app.example.com"],"policies":[{"match":{"path_prefixes":["/v1/"]},"allow_origins":["*"]}]}"#,
    )
    .unwrap();
    assert_eq!(selected(&paths_only, "a:1:2", "/x").name(), "top level");
}

#[test]
fn ambiguity_among_policies_that_do_not_enforce() {
    let c = Config::from_json(
        r#"{"mode":"off","policies":[
            {"match":{"path_prefixes":["/legacy/"]},"mode":"off"},
            {"match":{"path_prefixes":["/beta/"]},"allow_origins":["https://app.example.com"],"mode":"shadow"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(selected(&c, "x.com", "/legacy/..;/x").mode(), Mode::Off, "every candidate is off: nothing acts");
    let a = c.select(Some(b"x.com"), Some(b"/beta/..;/x")).unwrap_err();
    assert_eq!(a.mode, Mode::Shadow, "no candidate enforces: a would-be denial");
    assert_eq!(a.candidates, vec![PolicyId::Entry(1), PolicyId::TopLevel]);
}

#[test]
fn path_prefixes_are_written_normalized() {
    let e = err(r#"{"allow_origins":["*"],"policies":[{"match":{"path_prefixes":["/a/../b/"]}}]}"#);
    assert_eq!(e.key, "policies[0].match.path_prefixes[0]");
    assert!(e.reason.contains("`/b/`"), "{}", e.reason);
    for read_differently in ["/a%2Fb", "/a;b/", "/a//b/", r"/a\\b/", "/a%5Cb/"] {
        let json =
            format!(r#"{{"allow_origins":["*"],"policies":[{{"match":{{"path_prefixes":["{read_differently}"]}}}}]}}"#);
        let e = err(&json);
        assert!(e.reason.contains("read differently"), "{read_differently}: {}", e.reason);
    }
    assert!(err(r#"{"allow_origins":["*"],"policies":[{"match":{"path_prefixes":["/a%zz"]}}]}"#)
        .reason
        .contains("malformed"));
    assert!(err(r#"{"allow_origins":["*"],"policies":[{"match":{"path_prefixes":["/a?x"]}}]}"#)
        .reason
        .contains("`/a`"));
    assert!(Config::from_json(r#"{"allow_origins":["*"],"policies":[{"match":{"path_prefixes":["/caf%C3%A9/"]}}]}"#)
        .is_ok());
}

#[test]
fn large_configs_load() {
    let origins: Vec<String> = (0..10_000).map(|i| format!("\"https://app{i}.example.com\"")).collect();
    let subdomains: Vec<String> = (0..100).map(|i| format!("\"https://*.tenant{i}.example.org\"")).collect();
    let regexes: Vec<String> =
        (0..20).map(|i| format!("\"https://[a-z0-9-]+\\\\.r{i}\\\\.example\\\\.net\"")).collect();
    let json = format!(
        r#"{{"allow_origins":[{},{}],"allow_origin_regexes":[{}]}}"#,
        origins.join(","),
        subdomains.join(","),
        regexes.join(",")
    );
    let c = Config::from_json(&json).unwrap();
    let p = c.default_policy();
    assert!(p.check_origin(b"https://app9999.example.com").is_some());
    assert!(p.check_origin(b"https://x.tenant99.example.org").is_some());
    assert!(p.check_origin(b"https://x.r19.example.net").is_some());
    assert!(p.check_origin(b"https://x.r20.example.net").is_none());
}
