vcl 4.1;
# threadpress behind Varnish 7 (Debian's varnish + varnish-modules for xkey and accept).
#
# What is cached: only what the app marks with `Surrogate-Control: max-age=N` (article
# pages, home/list pages, feeds, sitemap: the pages every cookie-less anonymous reader
# shares) and static files (/static/, whitenoise's own Cache-Control). Everything else
# goes to the app every time. The app lists what a response shows in its `xkey` header;
# `PURGE /` with `xkey-purge: key1 key2` (from the purgers ACL) expires those objects
# (a soft purge: fetched anew for the next reader, kept for grace if that fails).
# The per-reader parts of a cached page (CSRF token, the comment form's signed timestamp)
# are `<esi:include>`s of /_edge/ fragments, kept as long as the app says: a reader's
# token for them alone (hashed on their CSRF cookie), the empty token of every reader
# without that cookie and the timestamp shared by all. Each page has two variants
# (X-Edge-Reader, set here only): for readers without a CSRF cookie the app puts the
# empty tokens and the timestamp in place (no include; kept a second, as the app
# says). Text, JSON and XML are
# gzipped here when the app sent them uncompressed.
#
# Substitute before loading (the file does not compile as shipped):
#   @BACKEND_HOST@  @BACKEND_PORT@   the app server or the load balancer in front of them
#   sed -e 's/@BACKEND_HOST@/127.0.0.1/' -e 's/@BACKEND_PORT@/8000/' \
#       deploy/varnish/threadpress.vcl > /etc/varnish/threadpress.vcl
# The languages in vcl_init must be the site's DJANGO_LANGUAGES (first = default), the
# cookie names below Django's CSRF_COOKIE_NAME / LANGUAGE_COOKIE_NAME and the comments
# app's sort cookie (csort). docs/deployment.md has the whole shape.

import std;
import xkey;
import cookie;
import accept;

backend app {
    .host = "@BACKEND_HOST@";
    .port = "@BACKEND_PORT@";
    .connect_timeout = 1s;
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 10s;
    # Sick after 3 failed probes out of 5 (about 6 s): then grace serves stale pages.
    # The Host below must be one of DJANGO_ALLOWED_HOSTS when the backend is gunicorn
    # itself (Django answers 400 to any other); HAProxy answers /healthz on its own.
    .probe = {
        .request = "GET /healthz HTTP/1.1"
                   "Host: localhost"
                   "Connection: close"
                   "User-Agent: varnish-probe";
        .interval = 2s;
        .timeout = 1s;
        .window = 5;
        .threshold = 3;
        .initial = 3;
    }
}

# Who may PURGE: the app servers (EDGE_PURGE_URLS points at this Varnish). Add their
# addresses here when they run on other hosts.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_init {
    # The site's languages (DJANGO_LANGUAGES); the first is the fallback.
    new languages = accept.rule("en");
    languages.add("de");
}

sub vcl_recv {
    # --- purging by surrogate key --------------------------------------------------------
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "xkey-purge header required"));
        }
        # Soft purge: the objects expire now but stay for grace, so a refetch that fails
        # (the app restarting) still finds them; vcl_hit has them fetched again at once
        # while the app is healthy, so the next reader gets the new page, not the old.
        set req.http.X-Purged = xkey.softpurge(req.http.xkey-purge);
        return (synth(200, "Purged " + req.http.X-Purged));
    }

    # Nobody outside tells the app it is behind an ESI cache, or which reader they are.
    unset req.http.Surrogate-Capability;
    unset req.http.X-Edge-Reader;

    # --- grace ---------------------------------------------------------------------------
    # Objects are kept 6 h past their TTL (beresp.grace). While the backend is healthy a
    # stale object is served for at most 10 s (while a background fetch refreshes it);
    # when the probe says sick, or the app failed (vcl_synth restarts with
    # X-Stale-Ok), for the whole 6 h. A purged object while it is healthy: not at all
    # (vcl_hit restarts with X-Edge-Refetch).
    if (req.restarts == 0) {
        unset req.http.X-Edge-Refetch;
    }
    if (req.http.X-Stale-Ok) {
        set req.grace = 6h;  # a restart keeps the first pass's req.grace: undo it
    } else if (req.http.X-Edge-Refetch) {
        set req.grace = 0s;  # vcl_hit found the object soft-purged: fetch it now
    } else if (std.healthy(req.backend_hint)) {
        set req.grace = 10s;
    }

    # --- ESI fragments (/_edge/): one reader's each ---------------------------------------
    if (req.url ~ "^/_edge/fragment/\?shared=1&" && req.method == "GET") {
        # A value the same for every reader (the form's timestamp): shared, for the
        # second the app keeps it. (The app refuses the flag on a reader's own value.)
        unset req.http.Cookie;
        unset req.http.Accept-Language;
        return (hash);
    }
    if (req.url ~ "^/_edge/fragment/" && req.method == "GET") {
        # Kept only as long as the app says (Surrogate-Control), and only for the same
        # reader: hashed on their CSRF cookie.
        cookie.parse(req.http.Cookie);
        # (A missing cookie is NULL, which "!=" does not tell from a value: regexes.)
        if (cookie.get("csrftoken") ~ "^[A-Za-z0-9]{32,64}$") {
            set req.http.X-Fragment-Owner = "cookie:" + cookie.get("csrftoken");
        } else {
            # No CSRF cookie: the same fragment for every such reader (no token; their
            # comment post is checked by the browser's Sec-Fetch-Site / Origin). The
            # app sees no cookie either, so what it renders matches this hash.
            unset req.http.Cookie;
            unset req.http.Accept-Language;
            set req.http.X-Fragment-Owner = "nobody";
        }
        return (hash);
    }
    if (req.url ~ "^/_edge/") {
        return (pass);
    }

    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }

    # --- static files: the same for everyone, whatever their cookies -------------------
    if (req.url ~ "^/static/") {
        unset req.http.Cookie;
        unset req.http.Accept-Language;
        return (hash);
    }

    # --- language: one cache object per site language ----------------------------------
    # The language cookie wins (Django's LocaleMiddleware); else Accept-Language, region
    # subtags dropped ("de-AT" → "de"), matched against the site's languages. The app
    # then sees only the normalised header, so the page always matches the hash.
    cookie.parse(req.http.Cookie);
    if (cookie.get("django_language") ~ "^[A-Za-z-]+$") {
        set req.http.Accept-Language = cookie.get("django_language");
    }
    set req.http.Accept-Language = languages.filter(
        regsuball(std.tolower(req.http.Accept-Language), "\b([a-z]{2,3})-[a-z0-9-]+", "\1"));

    # --- cookies: strip those that don't personalise, pass on anything else -------------
    # The csort cookie (a remembered comment sort) only turns a bare article URL into a
    # redirect: kept, and hashed, for URLs without a query string; dropped on the others.
    if (req.url !~ "\?" && cookie.get("csort") ~ ".") {
        set req.http.X-Sort = cookie.get("csort");
    }
    # Two variants of each page, hashed apart: a new reader's (no well-formed CSRF
    # cookie: the app fills the empty tokens in place, one include left, the shared
    # timestamp) and a returning reader's (an include of their own token per form).
    if (cookie.get("csrftoken") ~ "^[A-Za-z0-9]{32,64}$") {
        set req.http.X-Edge-Reader = "returning";
    } else {
        set req.http.X-Edge-Reader = "new";
    }
    cookie.delete("csrftoken");
    cookie.delete("django_language");
    cookie.delete("csort");
    if (cookie.get_string() ~ ".") {
        # sessionid, the remembered commenter name, messages, anything unknown: personal.
        unset req.http.X-Edge-Reader;
        return (pass);
    }
    if (req.http.X-Sort) {
        set req.http.Cookie = "csort=" + req.http.X-Sort;
    } else {
        unset req.http.Cookie;
    }
    unset req.http.Authorization;
    return (hash);
}

sub vcl_hash {
    hash_data(req.url);
    if (req.http.host) {
        hash_data(req.http.host);
    } else {
        hash_data(server.ip);
    }
    hash_data(req.http.Accept-Language);
    if (req.http.X-Fragment-Owner) {
        hash_data(req.http.X-Fragment-Owner);
    }
    if (req.http.X-Sort) {
        hash_data("csort=" + req.http.X-Sort);
    }
    if (req.http.X-Edge-Reader) {
        hash_data("reader=" + req.http.X-Edge-Reader);
    }
    return (lookup);
}

sub vcl_hit {
    # Soft-purged (expired before the TTL it was fetched with ran out: obj.ttl + obj.age
    # is how long it lived) while the app is healthy: not served stale with a background
    # refresh, but once more without grace (X-Edge-Refetch), a miss the reader waits for
    # (others asking for the same page wait on that one fetch). If that fetch fails, the
    # restart with X-Stale-Ok gets it from grace. (Varnish 7.1 has no return (miss)
    # here; a page past its own TTL keeps the 10 s background refresh.)
    if (obj.ttl <= 0s
        && obj.ttl + obj.age + 0.5s < std.duration(obj.http.X-Edge-TTL + "s", 0s)
        && !req.http.X-Stale-Ok && !req.http.X-Edge-Refetch
        && std.healthy(req.backend_hint)) {
        set req.http.X-Edge-Refetch = "1";
        return (restart);
    }
}

sub vcl_backend_fetch {
    # Tell the app an ESI processor is in front (it then sends includes for the holes).
    set bereq.http.Surrogate-Capability = "varnish=ESI/1.0";
    unset bereq.http.X-Sort;
    unset bereq.http.X-Fragment-Owner;
}

sub vcl_backend_response {
    # A failed fetch never replaces the stale copy: a background refresh keeps it, and a
    # reader's request is abandoned, then restarted (vcl_synth) with the long grace to
    # find it; only when there is none does the app's error page go out.
    if (beresp.status >= 500
        && (bereq.is_bgfetch || (!bereq.uncacheable && !bereq.http.X-Stale-Ok))) {
        return (abandon);
    }
    set beresp.grace = 6h;
    # Compressed here when the app did not (Varnish gunzips and regzips around ESI
    # includes, and gunzips for a client that does not take gzip).
    if (!beresp.http.Content-Encoding
        && beresp.http.Content-Type ~ "(?i)^(text/|application/([a-z.+-]*\+)?(json|xml|javascript))") {
        set beresp.do_gzip = true;
    }
    if (beresp.http.Surrogate-Control ~ "ESI/1\.0") {
        set beresp.do_esi = true;
    }
    if (bereq.uncacheable) {
        unset beresp.http.Surrogate-Control;
        return (deliver);
    }
    if (beresp.status >= 500) {
        # Failed (no stale copy either): not kept, and no hit-for-miss.
        set beresp.ttl = 0s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
    } else if (bereq.url ~ "^/_edge/fragment/"
        && !beresp.http.Set-Cookie
        && beresp.http.Surrogate-Control ~ "max-age=\d+") {
        # One reader's fragment (hashed on their cookie), or the one of every reader
        # without a cookie: the app's no-store is for browsers, the Surrogate-Control
        # for us.
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^.*max-age=(\d+).*$", "\1") + "s", 0s);
        set beresp.grace = 0s;
    } else if (beresp.http.Set-Cookie
        || beresp.http.Cache-Control ~ "(?i)private|no-store"
        || beresp.http.Vary == "*") {
        # Personal: never shared (hit-for-miss for a short while).
        set beresp.ttl = 10s;
        set beresp.uncacheable = true;
    } else if (beresp.http.Surrogate-Control ~ "max-age=\d+") {
        # The app's edge TTL (Varnish reads Surrogate-Control max-age itself).
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^.*max-age=(\d+).*$", "\1") + "s", 0s);
    } else if (bereq.url ~ "^/static/" && beresp.status == 200) {
        # whitenoise's Cache-Control (a year for hashed names) sets the TTL.
    } else {
        # Not marked shareable by the app: ask it every time.
        set beresp.ttl = 10s;
        set beresp.uncacheable = true;
    }
    unset beresp.http.Surrogate-Control;
    set beresp.http.X-Edge-TTL = beresp.ttl;  # what vcl_hit tells a soft purge by
    return (deliver);
}

sub vcl_deliver {
    if (req.esi_level == 0) {
        if (obj.hits > 0) {
            set resp.http.X-Cache = "HIT";
        } else {
            set resp.http.X-Cache = "MISS";
        }
    }
    unset resp.http.xkey;
    unset resp.http.X-Edge-TTL;
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}

sub vcl_backend_error {
    # The app unreachable. A fragment that can't be had leaves its place empty, not an
    # error page inside a page; a page is abandoned, and restarted for a stale copy.
    if (bereq.url ~ "^/_edge/") {
        set beresp.body = "";
        return (deliver);
    }
    if (!bereq.uncacheable && !bereq.http.X-Stale-Ok) {
        return (abandon);
    }
}

sub vcl_synth {
    # A fetch abandoned above (the app down or failing): once more, with the long grace,
    # for the last good copy. (X-Stale-Ok also reaches the app; it ignores it.)
    if (resp.status == 503 && (req.restarts == 0 || req.http.X-Edge-Refetch)
        && req.esi_level == 0
        && (req.method == "GET" || req.method == "HEAD") && !req.http.X-Stale-Ok) {
        set req.http.X-Stale-Ok = "1";
        return (restart);
    }
    if (req.method == "PURGE") {
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.body = resp.reason + {"
"};
        return (deliver);
    }
}
