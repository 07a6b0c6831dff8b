/* threadpress reactions: the "Respect" buttons toggle without a reload.

   Without this file every button still works: it submits the comments section's one
   form#comment-reactions (its CSRF token) to its own formaction, and the server answers
   with the comment again (303). With it, the click posts the same form with fetch and
   asks for JSON ({"reacted", "count"}); the button's aria-pressed and count follow.
   A reader who must sign in first, or whose reaction is refused, gets the server's
   message beside the button (with the sign-in link). Loaded by comments/_section.html;
   no inline script (CSP). */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  ready(function () {
    var form = document.getElementById("comment-reactions");
    if (!form || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }

    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button.comment-reaction");
      if (!button || button.form !== form) { return; }
      event.preventDefault();
      if (button.getAttribute("aria-busy") === "true") { return; }  // one request at a time
      react(form, button);
    });
  });

  function react(form, button) {
    // Sent as a form is (urlencoded): the comment endpoints refuse multipart bodies.
    var data = new URLSearchParams(new FormData(form));
    // The state the reader asks for, not a blind toggle: a second click that arrives
    // twice, or a page open in two tabs, cannot flip it back.
    data.append("reacted", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
    button.setAttribute("aria-busy", "true");
    fetch(button.getAttribute("formaction"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") }
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      button.removeAttribute("aria-busy");
      if (result.ok) {
        button.setAttribute("aria-pressed", result.body.reacted ? "true" : "false");
        var count = button.querySelector(".comment-reaction-count");
        if (count) { count.textContent = String(result.body.count); }
        say(button, "");
      } else {
        say(button, result.body.error || "", result.body.login_url);
      }
    }).catch(function () {
      // No answer we understand (offline, an expired session page): the form's own way.
      button.removeAttribute("aria-busy");
      if (form.requestSubmit) { form.requestSubmit(button); } else { button.form.submit(); }
    });
  }

  /* The server's message beside the button, in a polite live region created once per
     comment (filled after it is in the page, so screen readers announce it). */
  function say(button, message, link) {
    var footer = button.parentNode;
    var note = footer.querySelector(".comment-reaction-note");
    if (!message) {
      if (note) { note.textContent = ""; }
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "comment-reaction-note";
      note.setAttribute("role", "status");
      footer.appendChild(note);
    }
    window.setTimeout(function () {
      note.textContent = "";
      if (link) {
        var a = document.createElement("a");
        a.href = link;
        a.textContent = message;
        note.appendChild(a);
      } else {
        note.textContent = message;
      }
    }, 50);
  }
})();
