// "Sign in with a passkey" on the console's login page: asks the console for WebAuthn request options,
// lets the browser find one of this site's passkeys (navigator.credentials.get), and sends its answer back.
// The server keeps the challenge's token in the session; a success answers where to go next. Its own texts
// come translated from the page (data-failed, data-cancelled on #passkey-login: no inline script under the CSP).
(function () {
  "use strict";

  function start() {
    var box = document.getElementById("passkey-login");
    if (!box || !window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      return; // no WebAuthn JSON support: the password form alone
    }
    var button = document.getElementById("passkey-button");
    var problem = document.getElementById("passkey-error");
    var csrf = document.querySelector("#login-form input[name=csrfmiddlewaretoken]").value;
    box.hidden = false;

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
      post(box.dataset.optionsUrl, {})
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
