/* threadpress comments: progressive enhancement only. Without this file every
   feature works (Reply links open the form via ?replyto=, every reply shows). */
(function () {
  "use strict";

  // Where the folded reply lists of this article are remembered (enhanceToggles). Set
  // before ready() below, which runs its function at once when the page is parsed.
  var FOLDED_KEY = "threadpress:folded:" + window.location.pathname;

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  ready(function () {
    var respond = document.getElementById("respond");
    var form = document.getElementById("comment-form");
    if (respond && form) { enhanceReplies(respond, form); }
    if (form) { showFormErrors(form); }
    enhanceToggles();
  });

  /* A refused post (empty body, duplicate, too soon, expired form): the answer opens at
     the error summary (the form action's #comment-form-errors does that without
     JavaScript too). Focus it, and put the article's address in the location bar so
     that a reload shows the page again instead of re-sending the form. */
  function showFormErrors(form) {
    var errors = document.getElementById("comment-form-errors");
    if (!errors) { return; }
    if (document.activeElement !== errors) { errors.focus(); }
    var pageUrl = form.getAttribute("data-page-url");
    if (!pageUrl || !window.history || !window.history.replaceState ||
        window.location.pathname === pageUrl.split("?")[0]) { return; }
    // After the load: until then Chromium keeps applying the address's fragment, and
    // one that no longer names the summary would take the focus away from it.
    function replaceAddress() {
      window.history.replaceState(null, "", pageUrl + "#respond");
      if (document.activeElement !== errors) { errors.focus({ preventScroll: true }); }
    }
    if (document.readyState === "complete") {
      replaceAddress();
    } else {
      window.addEventListener("load", replaceAddress);
    }
  }

  function enhanceReplies(respond, form) {
    var placeholder = document.createComment("respond");
    respond.parentNode.insertBefore(placeholder, respond);
    var title = document.getElementById("reply-title");
    // Labels come translated from the page (data-* on #respond); English only as a fallback.
    var defaultTitle = respond.getAttribute("data-leave-reply-label") || "Leave a Reply";
    var replyingTo = respond.getAttribute("data-replying-to-label") || "Replying to %(name)s";
    var cancelWrap = respond.querySelector(".cancel-reply");
    var cancel = document.getElementById("cancel-comment-reply-link");
    var parentInput = form.querySelector("input[name=parent]");
    var body = form.querySelector("textarea[name=body]");
    if (!parentInput.value) { title.textContent = defaultTitle; }

    function moveTo(link) {
      var li = document.getElementById("comment-" + link.getAttribute("data-comment-id"));
      if (!li) { return false; }
      var article = li.querySelector(":scope > .comment-body");
      article.parentNode.insertBefore(respond, article.nextSibling);
      parentInput.value = link.getAttribute("data-comment-id");
      var author = link.getAttribute("data-author");
      // A function, so that "$&" or "$1" in a name is not read as a replacement pattern.
      title.textContent = replyingTo.replace("%(name)s", function () { return author; });
      cancelWrap.hidden = false;
      body.focus();
      return true;
    }

    function reset() {
      placeholder.parentNode.insertBefore(respond, placeholder.nextSibling);
      parentInput.value = "";
      title.textContent = defaultTitle;
      cancelWrap.hidden = true;
    }

    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a.comment-reply-link");
      if (link && moveTo(link)) { event.preventDefault(); }
    });
    cancel.addEventListener("click", function (event) {
      event.preventDefault();
      var replyId = parentInput.value;
      reset();
      var back = replyId && document.querySelector("#comment-" + replyId + " .comment-reply-link");
      (back || body).focus();
      if (window.history && window.location.search.indexOf("replyto=") !== -1) {
        // Drop replyto only: the comments page and sort (cpage, csort) stay.
        var query = window.location.search.slice(1).split("&").filter(function (pair) {
          return pair.split("=")[0] !== "replyto";
        }).join("&");
        window.history.replaceState(
          null, "", window.location.pathname + (query ? "?" + query : "") + "#respond"
        );
      }
    });
  }

  /* Any comment's reply list folds: its button says how many replies it hides
     ("Hide 3 replies" / "Show 3 replies", both translated in the page). The lists a
     reader folds are remembered for this article in the browser (localStorage, never
     sent anywhere) and folded again on the next visit. A comment the address points
     at (#comment-<pk>, a permalink) is never left inside a folded list. */
  function readFolded() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(FOLDED_KEY));
      return Array.isArray(stored) ? stored : [];
    } catch (error) {
      return [];  // no storage (a private window, a full disk): nothing is remembered
    }
  }

  function writeFolded(ids) {
    try {
      if (ids.length) {
        window.localStorage.setItem(FOLDED_KEY, JSON.stringify(ids));
      } else {
        window.localStorage.removeItem(FOLDED_KEY);
      }
    } catch (error) { /* nothing remembered, the page works as before */ }
  }

  function enhanceToggles() {
    var buttons = document.querySelectorAll(".thread-toggle");
    var folded = readFolded();
    Array.prototype.forEach.call(buttons, function (button) {
      var listId = button.getAttribute("aria-controls");
      var list = document.getElementById(listId);
      if (!list) { return; }
      var id = listId.replace("replies-", "");
      var hideLabel = button.textContent;
      var showLabel = button.getAttribute("data-show-label") || "Show replies";

      function show(expanded) {
        button.setAttribute("aria-expanded", expanded ? "true" : "false");
        list.hidden = !expanded;
        button.textContent = expanded ? hideLabel : showLabel;
      }

      button.hidden = false;
      if (folded.indexOf(id) !== -1) { show(false); }
      button.addEventListener("click", function () {
        var folding = button.getAttribute("aria-expanded") === "true";
        var focusInside = folding && list.contains(document.activeElement);
        show(!folding);
        if (focusInside) {
          // The focus was in what just folded: it goes to the comment whose replies these are.
          var body = button.parentNode.querySelector(":scope > .comment-body");
          if (body) {
            if (!body.hasAttribute("tabindex")) { body.setAttribute("tabindex", "-1"); }
            body.focus({ preventScroll: true });
          }
        }
        // Read again: another tab of the same article may have folded others meanwhile.
        var ids = readFolded().filter(function (other) { return other !== id; });
        if (folding) { ids.push(id); }
        writeFolded(ids);
      });
    });
    revealTarget();
    window.addEventListener("hashchange", revealTarget);
  }

  /* Unfold every list around the comment the address names (#comment-<pk>), so a
     permalink or a link never lands in a folded list; the browser then scrolls to it. */
  function revealTarget() {
    var id = window.location.hash.slice(1);
    var target = id && document.getElementById(id);
    if (!target || !target.closest("ol[hidden]")) { return; }
    var list = target.closest("ol[hidden]");
    while (list) {
      var button = document.querySelector('.thread-toggle[aria-controls="' + list.id + '"]');
      if (!button) { break; }
      button.click();
      list = target.closest("ol[hidden]");
    }
    target.scrollIntoView();
  }
})();
