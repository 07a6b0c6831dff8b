"use strict";
// The queue's "By article" filter: show the admin's autocomplete (select2, set up by
// admin/js/autocomplete.js) in place of the no-JavaScript title search, and open the
// chosen article's comments (or all of them when the choice is cleared).
window.addEventListener("DOMContentLoaded", function () {
  const box = document.querySelector(".comments-article-autocomplete");
  const $ = window.django && window.django.jQuery;
  if (!box || !$ || !$.fn.select2) {
    return; // the search form keeps working
  }
  const select = box.querySelector("select");
  const search = box.parentElement.querySelector(".comments-article-search");
  box.hidden = false;
  if (search) {
    search.hidden = true;
  }
  // select2 announces a choice with a jQuery event, which native listeners don't see.
  $(select).on("change", function () {
    const url = new URL(box.dataset.resetUrl, window.location.href);
    if (select.value) {
      url.searchParams.set(box.dataset.parameter, select.value);
    }
    window.location.assign(url.href);
  });
});
