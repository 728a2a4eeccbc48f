/* Witaj: small enhancements of every page. Each page works without them; no inline scripts (CSP).
 *
 * - <html class="js">: what only helps without JavaScript (the city forms' "Show the questions that
 *   apply" button, class no-js-only) is hidden and takes no Tab stop.
 * - After a failed send, the focus moves to the error summary ([data-error-summary]), whose links go
 *   to the inputs (and focus them); without JavaScript it is at the top of the page and announced
 *   (role="alert").
 * - Live checks (htmx swaps a question's message, .form-field .error-message): the question's inputs
 *   get aria-invalid and the error style while there is a message, and the element that names the
 *   question ([data-describe]) is described by the message; all of it is cleared when it is fixed.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) {
      return;
    }
    summary.focus();
    // A link of the summary focuses its input (a fragment link alone only scrolls) and shows the
    // question's label or legend with it.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var input = link && document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
      if (!input) {
        return;
      }
      event.preventDefault();
      var question = input.closest(".form-field, .field") || input;
      question.scrollIntoView();
      input.focus({ preventScroll: true });
    });
  }

  function setDescribedBy(element, id, on) {
    var ids = (element.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (value) {
      return value && value !== id;
    });
    if (on) {
      ids.push(id);
    }
    if (ids.length) {
      element.setAttribute("aria-describedby", ids.join(" "));
    } else {
      element.removeAttribute("aria-describedby");
    }
  }

  function markQuestion(message) {
    var question = message.closest(".form-field");
    if (!question) {
      return;
    }
    var invalid = message.textContent.trim() !== "";
    question.classList.toggle("field-error", invalid);
    question.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (input) {
      if (invalid) {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
      }
    });
    question.querySelectorAll("[data-describe]").forEach(function (element) {
      setDescribedBy(element, element.getAttribute("data-describe"), invalid);
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.classList && target.classList.contains("error-message")) {
      markQuestion(target);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusErrorSummary);
  } else {
    focusErrorSummary();
  }
})();
