/* The thread's keyboard, on the public article page:

     j / k   the next / previous comment of the page (those in folded lists skipped)
     p       the comment the current one replies to
     c       fold or unfold the current comment's replies (a comment without replies:
             the replies it is one of, and the focus goes to the comment they answer)
     n       the next comment new since the reader's last visit (new-since-visit.js
             marks them li.comment-new; a folded list around it opens)
     ?       the help dialog (dialog#thread-keys-help), as the "Keyboard shortcuts"
             button does; Esc closes it

   "The current comment" is the one holding the focus; the keys move the focus to a
   comment (its .comment-body, made focusable) and bring it into view, so a screen
   reader reads it and the focus ring shows where you are. Keys never act while you
   type in a field or with Ctrl, Alt or Meta held. Everything a key does, a link or a
   button of the page does too: without this script nothing is lost. */
(function () {
  "use strict";

  var NOT_TYPING = ["checkbox", "radio", "button", "submit", "reset", "image", "range", "color", "file"];

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function isTyping(target) {
    if (!(target instanceof Element)) { return false; }
    if (target.isContentEditable) { return true; }
    var field = target.closest("input, textarea, select");
    if (!field) { return false; }
    return !(field.tagName === "INPUT" && NOT_TYPING.indexOf(field.type) !== -1);
  }

  ready(function () {
    var section = document.getElementById("comments");
    var help = document.getElementById("thread-keys-help");
    if (!section || !help || typeof help.showModal !== "function") { return; }
    var status = document.getElementById("thread-keys-status");
    var opener = null;

    function say(name) {
      // A polite live region: screen readers announce why a key did nothing.
      var message = status && status.getAttribute("data-" + name);
      if (!message) { return; }
      status.textContent = "";
      window.setTimeout(function () { status.textContent = message; }, 50);
      window.clearTimeout(say.timer);
      say.timer = window.setTimeout(function () { status.textContent = ""; }, 4000);
    }

    function openHelp() {
      if (help.open) { return; }
      opener = document.activeElement;
      help.showModal();
    }
    help.addEventListener("close", function () {
      if (opener && typeof opener.focus === "function" && document.contains(opener)) {
        opener.focus();
      }
      opener = null;
    });
    Array.prototype.forEach.call(document.querySelectorAll(".thread-keys-open"), function (button) {
      button.hidden = false;
      button.addEventListener("click", openHelp);
    });

    function bodyOf(li) {
      return li.querySelector(":scope > .comment-body") || li;
    }

    function shownComments() {
      return Array.prototype.filter.call(
        section.querySelectorAll(".comment-list li.comment"),
        function (li) { return !li.closest("[hidden]"); }
      );
    }

    function current() {
      var active = document.activeElement;
      var li = active && active.closest && active.closest(".comment-list li.comment");
      return li && section.contains(li) ? li : null;
    }

    /* Open the folded lists around a comment (their buttons, so the state is remembered). */
    function reveal(li) {
      var list = li.closest("ol[hidden]");
      while (list) {
        var button = document.querySelector('.thread-toggle[aria-controls="' + list.id + '"]');
        if (!button) { return; }
        button.click();
        list = li.closest("ol[hidden]");
      }
    }

    function go(li) {
      reveal(li);
      var body = bodyOf(li);
      if (!body.hasAttribute("tabindex")) { body.setAttribute("tabindex", "-1"); }
      body.focus({ preventScroll: true });
      var box = body.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) {
        body.scrollIntoView({ block: box.height < window.innerHeight ? "nearest" : "start" });
      }
    }

    /* With no comment focused yet, j starts at the first comment that begins in view
       (or below), k at the last that begins above it. */
    function fromView(list, forward) {
      var index;
      for (index = 0; index < list.length; index += 1) {
        if (bodyOf(list[index]).getBoundingClientRect().top >= 0) { break; }
      }
      if (forward) { return list[Math.min(index, list.length - 1)]; }
      return list[Math.max(index - 1, 0)];
    }

    function step(forward) {
      var list = shownComments();
      if (!list.length) { return; }
      var here = current();
      var index = here ? list.indexOf(here) : -1;
      if (index === -1) {
        go(fromView(list, forward));
        return;
      }
      var next = list[index + (forward ? 1 : -1)];
      if (next) { go(next); } else { say(forward ? "last" : "first"); }
    }

    function parent() {
      var here = current();
      if (!here) { return; }
      // The parent link names the true parent, also where the depth cap puts a reply
      // beside it rather than inside its list.
      var link = bodyOf(here).querySelector(".comment-parent");
      var target = link ? document.getElementById(link.hash.slice(1)) :
        here.parentElement.closest("li.comment");
      if (target) { go(target); } else { say("no-parent"); }
    }

    function fold() {
      var here = current();
      var li = here;
      while (li) {
        var button = li.querySelector(":scope > .thread-toggle");
        if (button && !button.hidden) {
          button.click();
          if (li !== here) { go(li); }
          return;
        }
        li = li.parentElement.closest("li.comment");
      }
    }

    var lastNew = null;  // where n (or the button) went last: the button holds the focus

    function nextNew() {
      var marked = section.querySelectorAll(".comment-list li.comment-new");
      if (!marked.length) { say("no-new"); return; }
      var here = current() || lastNew;
      for (var index = 0; index < marked.length; index += 1) {
        // Following in the page: after it, or one of its own replies.
        if (!here || here.compareDocumentPosition(marked[index]) & Node.DOCUMENT_POSITION_FOLLOWING) {
          lastNew = marked[index];
          go(lastNew);
          return;
        }
      }
      say("no-more-new");
    }

    var KEYS = {
      j: function () { step(true); },
      k: function () { step(false); },
      p: parent,
      c: fold,
      n: nextNew,
      "?": openHelp
    };

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) {
        return;
      }
      var action = KEYS[event.key];
      if (!action || document.querySelector("dialog[open]") || isTyping(event.target)) { return; }
      event.preventDefault();
      action();
    });

    // "Next new comment" beside the count does what n does.
    section.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest(".comments-new-next")) { nextNew(); }
    });

    // A parent, top or next link followed on this page leaves the focus on the comment
    // it leads to, so j, k and p go on from there.
    section.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest(".comment-nav a");
      if (!link || link.pathname !== window.location.pathname || link.search !== window.location.search) {
        return;
      }
      var target = link.hash && document.getElementById(link.hash.slice(1));
      if (!target) { return; }
      window.setTimeout(function () {
        var body = bodyOf(target);
        if (!body.hasAttribute("tabindex")) { body.setAttribute("tabindex", "-1"); }
        body.focus({ preventScroll: true });
      }, 0);
    });
  });
})();
