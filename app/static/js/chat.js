/* The web chat with a keyboard, a screen reader and on a phone (the chat works without this file).
 *
 * - Enter sends, Shift+Enter starts a new line (and so does Enter while an input method composes).
 *   On a touch screen without a mouse, Enter keeps starting a new line, as in phone messengers: an
 *   on-screen keyboard has no Shift+Enter, and the Send button is at hand.
 * - After a send, the new answer is scrolled into view (at once when reduced motion is asked for)
 *   and focus comes back to the message box, which htmx has just replaced with an empty one. After
 *   a tap on a touch screen it goes to the Send button instead: the box would open the on-screen
 *   keyboard over the answer.
 * - A caseworker's reply that a poll brings moves neither focus nor the page: it is announced by the
 *   live region (#chat-live, filled by the server's fragment), like every answer.
 * No inline script anywhere (strict CSP): this file is loaded by templates/assistant/chat.html.
 */
(function () {
  "use strict";

  var chat = document.querySelector(".chat");
  var messages = document.getElementById("messages");
  if (!chat || !messages) {
    return;
  }
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  var touchOnly = window.matchMedia("(hover: none) and (pointer: coarse)");
  var sending = null; // while a send is on its way: {before: messages shown, touch: tapped}
  var lastPointer = "";

  function box() {
    return document.getElementById("chat-message");
  }

  function enterSends() {
    return !touchOnly.matches;
  }

  /* The hint under the label, and the box's description, say how Enter works where it does so. */
  function describeKeys() {
    chat.classList.toggle("chat-enter-sends", enterSends());
    var textarea = box();
    if (!textarea || !document.getElementById("chat-message-keys")) {
      return;
    }
    var ids = (textarea.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== "chat-message-keys";
    });
    if (enterSends()) {
      ids.push("chat-message-keys");
    }
    if (ids.length) {
      textarea.setAttribute("aria-describedby", ids.join(" "));
    } else {
      textarea.removeAttribute("aria-describedby");
    }
  }

  function fromChat(element) {
    return element && element.closest && (element.closest("#chat-form") || element.closest("#quick-replies form"));
  }

  function settled() {
    var sent = sending;
    sending = null;
    describeKeys();
    var added = Array.prototype.slice.call(messages.children, sent.before);
    var answer = added.filter(function (item) {
      return !item.classList.contains("msg-user");
    })[0] || added[0];
    var target = sent.touch ? document.querySelector("#chat-form [type=submit]") : box();
    if (target) {
      target.focus({ preventScroll: true });
    }
    if (answer) {
      answer.scrollIntoView({ block: "start", behavior: reducedMotion.matches ? "auto" : "smooth" });
    }
  }

  document.addEventListener("pointerdown", function (event) {
    lastPointer = event.pointerType || "";
  }, true);
  document.addEventListener("keydown", function () {
    lastPointer = "";
  }, true);

  chat.addEventListener("keydown", function (event) {
    var textarea = event.target;
    if (textarea.id !== "chat-message" || event.key !== "Enter" || event.shiftKey || !enterSends()) {
      return;
    }
    if (event.isComposing || event.keyCode === 229) {
      return; // Enter confirms an input method's word, it does not send
    }
    event.preventDefault();
    if (textarea.value.trim() && !sending && textarea.form) {
      textarea.form.requestSubmit();
    }
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (!fromChat(event.detail.elt)) {
      return;
    }
    if (sending) {
      event.preventDefault(); // one message at a time; what was typed stays in the box
      return;
    }
    sending = { before: messages.children.length, touch: lastPointer === "touch" };
  });

  document.body.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    if (sending && fromChat(detail.elt || (detail.requestConfig && detail.requestConfig.elt))) {
      settled();
    }
  });

  ["htmx:sendError", "htmx:timeout", "htmx:swapError"].forEach(function (name) {
    document.body.addEventListener(name, function () {
      sending = null;
    });
  });

  if (touchOnly.addEventListener) {
    touchOnly.addEventListener("change", describeKeys);
  }
  describeKeys();
})();
