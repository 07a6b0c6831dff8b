/* "New since your last visit": the comments of this page posted after the reader's
   previous visit to the article get the class comment-new and a visually hidden "new"
   before their author's name, and the line at the top of the comments says how many.

   The page is the same for every anonymous reader (it is cached): what is new is
   worked out here, from each comment's <time datetime>. The previous visit comes from
   the page for a signed-in reader (section#comments[data-previous-visit], recorded on
   the server, so it follows them from device to device; empty on their first visit),
   else from this browser's storage, per article, sent nowhere. Both follow the rule of
   comments/visits.py: page views less than data-visit-gap seconds apart are one visit,
   so a reload keeps the marks; the first visit marks nothing. Comments the reader may
   withdraw are their own, never new to them. Without JavaScript nothing is marked. */
(function () {
  "use strict";

  var VISIT_KEY = "threadpress:visit:" + window.location.pathname;

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  /* The time (ms) comments are new after, or null: a first visit, or no storage. */
  function previousVisit(section) {
    if (section.hasAttribute("data-previous-visit")) {
      var stored = Date.parse(section.getAttribute("data-previous-visit"));
      return isNaN(stored) ? null : stored;
    }
    var gap = (parseInt(section.getAttribute("data-visit-gap"), 10) || 1800) * 1000;
    var now = Date.now();
    var last;
    try {
      last = JSON.parse(window.localStorage.getItem(VISIT_KEY));
    } catch (error) {
      return null;  // storage refused (a private window, a policy): nothing is new
    }
    var previous = null;
    if (last && typeof last.visited === "number") {
      if (now - last.visited >= gap) {
        previous = last.visited;  // a new visit: new is what came after the last one
      } else if (typeof last.previous === "number") {
        previous = last.previous;  // the same visit (a reload): the marks stay
      }
    }
    try {
      window.localStorage.setItem(VISIT_KEY, JSON.stringify({ visited: now, previous: previous }));
    } catch (error) { /* not remembered: the next visit is a first one again */ }
    return previous;
  }

  function mark(li, label) {
    var body = li.querySelector(":scope > .comment-body");
    var header = body && body.querySelector(".comment-meta");
    li.classList.add("comment-new");
    if (!header) { return; }
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden comment-new-label";
    hidden.id = li.id + "-new";
    hidden.textContent = label;
    header.insertBefore(hidden, header.firstChild);
    // The comment's name (its author) becomes "new <author>" for screen readers too.
    var named = body.getAttribute("aria-labelledby");
    if (named) { body.setAttribute("aria-labelledby", hidden.id + " " + named); }
  }

  ready(function () {
    var section = document.getElementById("comments");
    var line = document.getElementById("comments-new");
    if (!section || !line) { return; }
    var previous = previousVisit(section);
    if (previous === null) { return; }
    var label = line.getAttribute("data-new-label") || "new";
    var count = 0;
    Array.prototype.forEach.call(section.querySelectorAll(".comment-list li.comment"), function (li) {
      var body = li.querySelector(":scope > .comment-body");
      var time = body && body.querySelector(".comment-meta time[datetime]");
      if (!time || body.querySelector(".comment-withdraw-link")) { return; }
      // Times are to the second: a comment of the very second of the visit is not new.
      if (Date.parse(time.getAttribute("datetime")) > previous) {
        mark(li, label);
        count += 1;
      }
    });
    if (!count) { return; }
    var one = typeof Intl !== "undefined" && Intl.PluralRules ?
      new Intl.PluralRules(document.documentElement.lang || undefined).select(count) === "one" :
      count === 1;
    var text = line.getAttribute(one ? "data-one" : "data-other") || "%(count)s new";
    line.querySelector(".comments-new-count").textContent =
      text.replace("%(count)s", function () { return String(count); });
    line.hidden = false;
  });
})();
