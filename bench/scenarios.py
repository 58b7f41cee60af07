"""The benchmark's scenarios and policies (data for bench/run.py): what each scenario sends, which
variants run it, and the CORS configuration of each variant for each policy."""

import re


ALLOWED = "https://app.example.com"
DENIED = "https://evil.example.net"
METHODS = ["GET", "POST", "PUT", "DELETE"]
HEADERS = ["content-type", "x-requested-with"]
EXPOSE = ["x-request-id"]
MAX_AGE = 600

# Large policy: 10,000 exact origins, 100 subdomain patterns, 20 regexes; the request origin
# matches only the last regex.
N_EXACT, N_SUB, N_REGEX = 10_000, 100, 20
LARGE_ORIGIN = "https://app-x1.region%d.example.org" % (N_REGEX - 1)

# Regex cost (issue 16): the costliest regex shape within the bound on a policy's compiled
# regexes (32 KiB), against a new, maximal-length, non-matching Origin on every request, so the
# per-policy verdict cache never helps. The hostile `{1,200}` form of it is refused at load.
REGEX_BOUND = [r"https://([a-z0-9-]{0,63}\.?){1,4}\.example\.com"]
# A counter (up to 10 digits) and this make a host of at most 251 characters, labels under 64.
ROTATING_HOST = "a" * 50 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 50
ROTATING_LUA = """
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["Origin"] = string.format("https://%%d%s.example.org", counter)
  return wrk.format()
end
""" % ROTATING_HOST


def large_exact():
    return ["https://site%d.customer.example" % i for i in range(N_EXACT)]


def large_sub_hosts():
    return ["tenant%d.example.net" % i for i in range(N_SUB)]


def large_regexes():
    return [r"https://app-[a-z0-9]+\.region%d\.example\.org" % i for i in range(N_REGEX)]


# 30 KB Access-Control-Request-Headers: thousands of distinct names, all listed in the policy.
def acrh_names():
    names, size, i = [], 0, 0
    while size < 30 * 1024:
        n = "x-h%04x" % i
        names.append(n)
        size += len(n) + 1
        i += 1
    return names


ACRH_NAMES = acrh_names()
ACRH_VALUE = ",".join(ACRH_NAMES)

# ---------------------------------------------------------------------------------------------
# Scenarios: request headers, and which variants (and which policy instance) they apply to.
# policy "normal": one allowed origin; "large": the large policy; "acrh": allow_headers lists the
# 30 KB of names. a, c and d have no policy to vary, so they always run their single instance.
SCENARIOS = [
    dict(key="get_allowed", title="allowed actual GET", method="GET",
         headers={"Origin": ALLOWED}, variants="abcde", policy="normal",
         what="GET from the one allowed origin: b, d, e add ACAO (+ Vary); d adds no ACAC/ACEH."),
    # Right after get_allowed: its e cell is the denominator of the large-policy target, and
    # cells close in time share the machine's state.
    dict(key="large_policy", title="large policy, last regex", method="GET",
         headers={"Origin": LARGE_ORIGIN}, variants="abe", policy="large",
         what="Actual GET whose origin matches only the last of 20 regexes after 10,000 exact origins "
              "and 100 subdomain patterns (b: 10,000 exact + 120 safe_regex matchers). Compare e "
              "with e on 'allowed actual GET' (one-origin policy). d knows one origin: not run."),
    dict(key="get_denied", title="denied-origin GET", method="GET",
         headers={"Origin": DENIED}, variants="abcde", policy="normal",
         what="GET from an unlisted origin: forwarded, no CORS headers added."),
    dict(key="get_no_origin", title="GET without Origin", method="GET",
         headers={}, variants="abcde", policy="normal",
         what="Same-origin style GET: only the cost of looking for Origin (e may add Vary: Origin)."),
    # Right after get_no_origin, the denominator of the pass-through target (issue 9).
    dict(key="passthrough", title="passed through (mode off)", method="GET",
         headers={"Origin": ALLOWED}, variants="ace", policy="gateway", current_build_only=True,
         what="Shared-gateway policy: top level `mode: off`, one entry for another host; this request's "
              "host matches no entry, so the plugin selects, counts and leaves it alone. Compare e with "
              "e on 'GET without Origin'."),
    dict(key="star_no_origin", title="`*` policy, GET without Origin", method="GET",
         headers={}, variants="ace", policy="star",
         what="`allow_origins: [\"*\"]`: since issue 10 the static answer (ACAO *, ACEH) is written on "
              "every response, CORS request or not (Fetch, CORS protocol and HTTP caches)."),
    dict(key="preflight_allowed", title="allowed preflight", method="OPTIONS",
         headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": "content-type"},
         variants="abcde", policy="normal",
         what="b, d, e answer locally (204/200); a and c forward the OPTIONS to the upstream."),
    # Right after preflight_allowed, whose e cell is the denominator of the 30 KB target.
    dict(key="preflight_acrh_30k", title="preflight, 30 KB ACRH", method="OPTIONS",
         headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": ACRH_VALUE},
         variants="abcde", policy="acrh",
         what="Allowed preflight whose ACRH is %d names (%d bytes), every one listed in the policy's "
              "allow_headers (b, e). b does not parse ACRH (echoes its configured list); d does not "
              "read it; a and c forward it. Compare e with e on 'allowed preflight'."
              % (len(ACRH_NAMES), len(ACRH_VALUE))),
    dict(key="preflight_acrh_30k_echo", title="preflight, 30 KB ACRH, `*` with credentials", method="OPTIONS",
         headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": ACRH_VALUE},
         variants="e", policy="acrh_echo", current_build_only=True,
         what="`allow_headers: [\"*\"]` with credentials: every requested name is checked and echoed "
              "lowercased in a 30 KB Access-Control-Allow-Headers (issue 10). Compare e with e on "
              "'allowed preflight'."),
    # Issue 16: a policy with path-scoped entries; the request's path reads one way (the common
    # path: one scan, no copy) or several ways that select different entries (denied).
    dict(key="path_scoped", title="path-scoped entries, plain path", method="GET", path="/api/items",
         headers={"Origin": ALLOWED}, variants="abe", policy="paths",
         what="Top level allows the origin; entries for /public/ (`*`) and /admin/ (another origin). "
              "The path reads alike every way: selection costs one scan of it. Compare e with e on "
              "'allowed actual GET' (no entries), and with f (build B) when run."),
    dict(key="path_ambiguous", title="path-scoped entries, ambiguous path", method="GET",
         path="/public/..;/admin/x", headers={"Origin": ALLOWED}, variants="ae", policy="paths",
         current_build_only=True,
         what="`/public/..;/admin/x` is /public/ as sent and /admin/ to a Java server: the readings "
              "select different entries, so the request is denied (cors.ambiguous_request_denied)."),
    dict(key="regex_rotating", title="regex at the cost bound, rotating origins", method="GET",
         headers={"Origin": "https://0" + ROTATING_HOST + ".example.org"}, lua=ROTATING_LUA,
         variants="ae", policy="regex_bound", current_build_only=True,
         what="A policy whose only regex is `%s` (within the 32 KiB bound), and a new %d-byte Origin "
              "that it does not match on every request: the regex runs in full each time. b is not run: "
              "Envoy refuses this regex at load (RE2 program size 1051 > its default limit 100)." % (REGEX_BOUND[0], len("https://0" + ROTATING_HOST + ".example.org"))),
    dict(key="preflight_rejected", title="rejected preflight", method="OPTIONS",
         headers={"Origin": DENIED, "Access-Control-Request-Method": "PUT"},
         variants="abcde", policy="normal",
         what="Preflight from an unlisted origin: d and e reply 403 locally; b (forward_not_matching_"
              "preflights: false) replies locally without CORS headers; a and c forward it."),
]

VARIANTS = {
    "a": "no CORS",
    "b": "Envoy built-in cors",
    "c": "no-op wasm",
    "d": "reference wasm",
    "e": "our plugin",
    "f": "our plugin, build B",
    "n": "our native module",
    "m": "native floor",
    "p": "our native module, build B",
}
# The native module runs wherever the plugin does: the same policy, side by side; the native
# floor knows the one-origin policy only, and runs where the wasm reference does.
for _sc in SCENARIOS:
    if "e" in _sc["variants"]:
        _sc["variants"] += "n"
    if "d" in _sc["variants"] and _sc["policy"] == "normal":
        _sc["variants"] += "m"


def cors_policy_json(policy):
    cfg = {
        "allow_methods": METHODS,
        "allow_headers": HEADERS,
        "expose_headers": EXPOSE,
        "allow_credentials": True,
        "max_age": MAX_AGE,
    }
    if policy == "normal":
        cfg["allow_origins"] = [ALLOWED]
    elif policy == "large":
        cfg["allow_origins"] = large_exact() + ["https://*.%s" % h for h in large_sub_hosts()]
        cfg["allow_origin_regexes"] = large_regexes()
    elif policy == "acrh":
        cfg["allow_origins"] = [ALLOWED]
        cfg["allow_headers"] = HEADERS + ACRH_NAMES
    elif policy == "acrh_echo":
        cfg["allow_origins"] = [ALLOWED]
        cfg["allow_headers"] = ["*"]
    elif policy == "star":
        cfg = {"allow_origins": ["*"], "expose_headers": EXPOSE, "max_age": MAX_AGE}
    elif policy == "paths":
        cfg["allow_origins"] = [ALLOWED]
        cfg["policies"] = [
            {"match": {"path_prefixes": ["/public/"]}, "allow_origins": ["*"], "allow_credentials": False},
            {"match": {"path_prefixes": ["/admin/"]}, "allow_origins": ["https://admin.example.com"]}]
    elif policy == "regex_bound":
        cfg["allow_origin_regexes"] = REGEX_BOUND
    elif policy == "gateway":
        cfg = {"mode": "off", "policies": [
            {"match": {"hosts": ["api.example.com"]}, **cfg, "allow_origins": [ALLOWED]}]}
    return cfg


def builtin_policy(policy):
    if policy == "large":
        matchers = [{"exact": o} for o in large_exact()]
        matchers += [{"safe_regex": {"regex": r"https://([a-z0-9-]+\.)+%s" % re.escape(h)}}
                     for h in large_sub_hosts()]
        matchers += [{"safe_regex": {"regex": r}} for r in large_regexes()]
    else:
        matchers = [{"exact": ALLOWED}]
    headers = HEADERS + (ACRH_NAMES if policy == "acrh" else [])
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": matchers,
        "allow_methods": ", ".join(METHODS),
        "allow_headers": ",".join(headers),
        "expose_headers": ", ".join(EXPOSE),
        "max_age": str(MAX_AGE),
        "allow_credentials": True,
        "forward_not_matching_preflights": False,
    }
