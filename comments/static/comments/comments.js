/* threadpress comments: progressive enhancement only. Without this file every
   feature works (Reply links open the form via ?replyto=, threads stay expanded). */
(function () {
  "use strict";

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

  function enhanceToggles() {
    var buttons = document.querySelectorAll(".thread-toggle");
    Array.prototype.forEach.call(buttons, function (button) {
      var list = document.getElementById(button.getAttribute("aria-controls"));
      if (!list) { return; }
      // Labels come translated from the page; the "N replies" beside the button says
      // how many, so the button doesn't repeat it.
      var hideLabel = button.textContent;
      var showLabel = button.getAttribute("data-show-label") || "Show replies";
      button.hidden = false;
      button.addEventListener("click", function () {
        var expanded = button.getAttribute("aria-expanded") === "true";
        button.setAttribute("aria-expanded", expanded ? "false" : "true");
        list.hidden = expanded;
        button.textContent = expanded ? showLabel : hideLabel;
      });
    });
  }
})();
