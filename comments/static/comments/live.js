/* Live updates without websockets (comments/live.py, docs/readers.md "Live updates").

   While the page is visible it asks div#comments-live[data-version-url] every
   data-poll seconds whether the discussion changed (a tiny public JSON answer that an
   HTTP cache may keep a few seconds). The interval doubles while nothing changes, up to
   MAX_INTERVAL, and polling stops once the article has had nothing new for a day (its
   newest comment, or its publication). A hidden tab does not poll; it asks again as
   soon as it is shown. When the version moves, the comments approved since the page was
   rendered come from data-new-url as the thread's own markup; those whose place is on
   this page (a reply under its parent, a new thread) wait behind the button "3 new
   comments — show", which inserts them and says so in the polite status region.
   Without JavaScript the button stays hidden and nothing polls.

   The container's data-state says what the script is doing: polling, paused (hidden
   tab) or stopped; window.threadpressLive exposes poll() and the visibility handler. */
(function () {
  "use strict";

  var MAX_INTERVAL = 240;  // seconds: a quiet article is asked every four minutes at most
  var QUIET_AFTER = 86400;  // seconds without a new comment: stop asking
  var MARGIN = 60;  // seconds: ask for a little more than needed, the page keeps no duplicate

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function counted(element, count) {
    var text = element.getAttribute(count === 1 ? "data-one" : "data-other") || "";
    return text.replace("%(count)s", String(count));
  }

  ready(function () {
    var box = document.getElementById("comments-live");
    if (!box || !window.fetch || !window.DOMParser) { return; }
    var button = box.querySelector(".comments-live-show");
    var status = box.querySelector(".comments-live-status");
    var base = Math.max(parseFloat(box.getAttribute("data-poll")) || 15, 0.2);
    var version = parseInt(box.getAttribute("data-version"), 10);
    var since = (parseInt(box.getAttribute("data-rendered"), 10) || 0) - MARGIN;
    var newest = parseInt(box.getAttribute("data-published"), 10) || 0;
    var interval = base;
    var timer = null;
    var stopped = false;
    var pending = [];  // [{parent: "12" or "", li: Element}]

    function setState(state) { box.setAttribute("data-state", state); }

    function schedule() {
      window.clearTimeout(timer);
      timer = null;
      if (stopped) { setState("stopped"); return; }
      if (document.visibilityState === "hidden") { setState("paused"); return; }
      setState("polling");
      timer = window.setTimeout(poll, interval * 1000);
    }

    function quiet() {
      return Date.now() / 1000 - newest > QUIET_AFTER;
    }

    function onVisibility() {
      if (document.visibilityState === "hidden") {
        window.clearTimeout(timer);
        timer = null;
        if (!stopped) { setState("paused"); }
      } else if (!stopped) {
        poll();  // back on the tab: ask now
      }
    }

    function placeOf(item) {
      var parent = item.parent;
      if (parent && !document.getElementById("comment-" + parent)) { return false; }  // another page
      return !document.getElementById(item.li.id);
    }

    function fetchNew() {
      var url = box.getAttribute("data-new-url") + "?since=" + since;
      return window.fetch(url, { credentials: "omit" }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var wrapper = doc.querySelector(".live-new");
        var until = wrapper && parseInt(wrapper.getAttribute("data-until"), 10);
        if (until) { since = until - MARGIN; }
        var known = {};
        pending.forEach(function (item) { known[item.li.id] = true; });
        doc.querySelectorAll(".live-item").forEach(function (element) {
          var li = element.querySelector("li.comment");
          if (!li || known[li.id]) { return; }
          var item = { parent: element.getAttribute("data-parent") || "", li: document.importNode(li, true) };
          if (placeOf(item)) { pending.push(item); known[li.id] = true; }
        });
        if (pending.length) {
          button.textContent = counted(button, pending.length);
          button.hidden = false;
        }
      });
    }

    function poll() {
      window.clearTimeout(timer);
      timer = null;
      var url = box.getAttribute("data-version-url");
      window.fetch(url, { credentials: "omit" }).then(function (response) {
        if (response.status === 404) { stopped = true; return null; }
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (data) {
        if (!data) { return null; }
        if (data.newest && data.newest > newest) { newest = data.newest; }
        if (data.version !== version) {
          version = data.version;
          interval = base;
          return fetchNew();
        }
        interval = Math.min(interval * 2, MAX_INTERVAL);
        if (quiet()) { stopped = true; }
        return null;
      }).catch(function () {
        interval = Math.min(interval * 2, MAX_INTERVAL);  // the network or the server: later
      }).then(schedule);
    }

    function listFor(parent) {
      if (!parent) {
        var top = document.querySelector("#comments ol.comment-list");
        if (!top) {
          top = document.createElement("ol");
          top.className = "comment-list";
          box.parentNode.insertBefore(top, box.nextSibling);
        }
        return top;
      }
      var li = document.getElementById("comment-" + parent);
      var list = document.getElementById("replies-" + parent);
      if (!list) {
        list = document.createElement("ol");
        list.className = "children";
        list.id = "replies-" + parent;
        li.appendChild(list);
      }
      return list;
    }

    function show() {
      var shown = 0;
      var first = null;
      var newestFirst = box.getAttribute("data-sort") === "newest";
      pending.forEach(function (item) {
        if (!placeOf(item)) { return; }
        var list = listFor(item.parent);
        if (!item.parent && newestFirst) {
          list.insertBefore(item.li, list.firstChild);
        } else {
          list.appendChild(item.li);
        }
        item.li.classList.add("comment-live");
        if (!first) { first = item.li; }
        shown += 1;
      });
      pending = [];
      button.hidden = true;
      if (first) {
        first.setAttribute("tabindex", "-1");  // the button is gone: focus the first of them
        first.focus();
      }
      status.textContent = shown ? counted(status, shown) : "";
    }

    button.addEventListener("click", show);
    document.addEventListener("visibilitychange", onVisibility);
    window.threadpressLive = { poll: poll, onVisibility: onVisibility };
    schedule();
  });
}());
