// The console's WebAuthn buttons. "Sign in with a passkey" on the login page (#passkey-login) asks the
// console for request options (data-options-url); "Use your security key" at the second step (#key-login)
// reads the options the password step made from a JSON data block on the page (data-options-id). Either
// lets the browser answer them (navigator.credentials.get) and sends the answer to data-verify-url. The
// server keeps the challenge in the session; a success answers where to go next. Its own texts come
// translated from the page (data-failed, data-cancelled: no inline script under the CSP).
(function () {
  "use strict";

  function start() {
    var box = document.getElementById("passkey-login") || document.getElementById("key-login");
    if (!box || !window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      return; // no WebAuthn JSON support: the form alone
    }
    var button = box.querySelector("button");
    var problem = box.querySelector(".errors");
    var csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
    box.hidden = false;

    function options() {
      if (box.dataset.optionsId) {
        var block = document.getElementById(box.dataset.optionsId);
        return Promise.resolve({ public_key: JSON.parse(block.textContent) });
      }
      return post(box.dataset.optionsUrl, {});
    }

    function post(url, body) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      }).then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            throw new Error(data.message || box.dataset.failed);
          }
          return data;
        });
      });
    }

    function fail(error) {
      problem.textContent =
        error && error.name === "NotAllowedError" ? box.dataset.cancelled : error.message || box.dataset.failed;
      problem.hidden = false;
      button.disabled = false;
    }

    button.addEventListener("click", function () {
      problem.hidden = true;
      button.disabled = true;
      options()
        .then(function (data) {
          var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(data.public_key);
          return navigator.credentials.get({ publicKey: publicKey });
        })
        .then(function (credential) {
          var url = box.dataset.verifyUrl + (box.dataset.next ? "?next=" + encodeURIComponent(box.dataset.next) : "");
          return post(url, { credential: credential.toJSON() });
        })
        .then(function (data) {
          window.location.assign(data.redirect);
        })
        .catch(fail);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
