"use strict";
// The moderation desk's keyboard, in the queue and on a comment's page. The help dialog
// (#comments-keys-help, admin/comments/comment/_keyboard_help.html) lists the keys and
// carries this page's settings; without it, or without JavaScript, nothing changes:
// every key stands for a link or a button the page shows anyway.
//
// In the queue, j/k move a selection over the rows; a, s, r and f run the changelist's
// own action on the selected row (its checkbox ticked alone, the action chosen, "Go"
// pressed: the same POST with its CSRF token as by hand), and the selection comes back
// to the same place when the queue reloads. On a comment's page each key clicks the
// element marked data-comments-key="<key>" (a button of a form that posts, or a link).
window.addEventListener("DOMContentLoaded", function () {
  const help = document.getElementById("comments-keys-help");
  if (!help || typeof help.showModal !== "function") {
    return;
  }
  const status = document.getElementById("comments-keys-status");
  const inQueue = help.dataset.page === "queue";
  const STORAGE_KEY = "comments-keys-selected";
  const NOT_TYPING = ["checkbox", "radio", "button", "submit", "reset", "image"];
  let busy = false;

  function submitting() {
    // One post per key press, however long the next page takes to come; keys work
    // again if the browser stopped the form (a required field) or the page comes back.
    busy = true;
    window.setTimeout(function () {
      busy = false;
    }, 3000);
  }
  window.addEventListener("pageshow", function () {
    busy = false;
  });

  document.querySelectorAll("[data-comments-keys-open]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      help.showModal();
    });
  });

  function say(message) {
    // A polite live region: screen readers announce it, and it shows for a moment.
    status.textContent = message;
    window.clearTimeout(say.timer);
    say.timer = window.setTimeout(function () {
      status.textContent = "";
    }, 4000);
  }

  function isTyping(target) {
    if (!(target instanceof Element)) {
      return false;
    }
    if (target.isContentEditable) {
      return true;
    }
    const field = target.closest("input, textarea, select");
    if (!field) {
      return false;
    }
    return !(field.tagName === "INPUT" && NOT_TYPING.includes(field.type));
  }

  // What each key clicks on a comment's page, besides [data-comments-key]: the Remove
  // button of the form that asks for the reason, and the Feature/Unfeature button.
  const ALSO = {
    r: "#comment-remove-form button[name=action]",
    f: "#feature-button",
  };

  function click(key) {
    const selector = '[data-comments-key="' + key + '"]';
    const target = document.querySelector(ALSO[key] ? selector + ", " + ALSO[key] : selector);
    if (!target) {
      say(help.dataset.unavailable);
      return;
    }
    if (target.form && !target.form.checkValidity()) {
      // Removing asks for the reason first: the browser points at the empty field,
      // and Enter there presses the same button.
      askFirst(target);
      return;
    }
    if (target.form || target.tagName === "BUTTON") {
      submitting();
    }
    target.click();
  }

  function askFirst(button) {
    const form = button.form;
    if (!form.dataset.commentsKeysAsked) {
      form.dataset.commentsKeysAsked = "1";
      form.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && event.target.tagName === "SELECT") {
          event.preventDefault();
          form.requestSubmit(button);
        }
      });
    }
    form.reportValidity();
  }

  // --- the queue ---------------------------------------------------------------------
  const rows = inQueue ? Array.from(document.querySelectorAll("#result_list tbody tr")) : [];
  let current = -1;

  function select(index, { scroll = true } = {}) {
    if (!rows.length) {
      return;
    }
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0) {
      rows[current].classList.remove("comments-keys-current");
      rows[current].removeAttribute("aria-current");
    }
    current = index;
    const row = rows[current];
    row.classList.add("comments-keys-current");
    row.setAttribute("aria-current", "true");
    row.tabIndex = -1;
    row.focus({ preventScroll: !scroll });
    if (scroll) {
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function runAction(key) {
    const action = help.dataset["action" + key.toUpperCase()];
    const form = document.getElementById("changelist-form");
    const choice = form && form.querySelector("select[name=action]");
    const go = form && form.querySelector("button[name=index]");
    if (!choice || !go || !Array.from(choice.options).some((o) => o.value === action)) {
      say(help.dataset.unavailable);
      return;
    }
    if (current < 0) {
      say(help.dataset.noSelection);
      return;
    }
    const box = rows[current].querySelector("input.action-select");
    form.querySelectorAll("input.action-select").forEach(function (other) {
      other.checked = other === box;
    });
    form.querySelectorAll("input.select-across").forEach(function (across) {
      across.value = "0";
    });
    choice.value = action;
    // Back on the reloaded queue, the selection stays where it was: on the next comment.
    sessionStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({ page: location.pathname + location.search, index: current })
    );
    submitting();
    go.click();
  }

  if (inQueue) {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    sessionStorage.removeItem(STORAGE_KEY);
    if (saved && saved.page === location.pathname + location.search) {
      select(saved.index);
    }
    rows.forEach(function (row, index) {
      row.addEventListener("click", function (event) {
        if (!event.target.closest("a, input, button")) {
          select(index, { scroll: false });
        }
      });
    });
  }

  function queueKey(key, target) {
    if (key === "j") {
      select(current + 1);
    } else if (key === "k") {
      select(current < 0 ? 0 : current - 1);
    } else if (key === "o" || (key === "Enter" && current >= 0 && target === rows[current])) {
      const link = current >= 0 && rows[current].querySelector("th a, td a");
      if (link) {
        link.click();
      }
    } else if ("asrf".includes(key)) {
      runAction(key);
    } else {
      return false;
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (
      busy ||
      help.open ||
      event.defaultPrevented ||
      event.ctrlKey ||
      event.metaKey ||
      event.altKey ||
      isTyping(event.target)
    ) {
      return;
    }
    const key = event.key;
    if (key === "?") {
      event.preventDefault();
      help.showModal();
      return;
    }
    if (event.repeat && key !== "j" && key !== "k") {
      return; // a held key moves; it never repeats an action
    }
    if (inQueue && queueKey(key, event.target)) {
      event.preventDefault();
      return;
    }
    if ("jkasrfn".includes(key) && key.length === 1) {
      event.preventDefault();
      click(key);
    }
  });
});
