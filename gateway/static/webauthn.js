// Passkeys and security keys for the resetgate pages (no framework, no inline
// script: the pages' CSP allows scripts from this origin only).
//
// Reset: #webauthn-start asks POST /reset/webauthn/options for the request
// options, runs navigator.credentials.get and submits the assertion as JSON
// in #webauthn-form's hidden "credential" field.
// Enrolment: #webauthn-add asks POST /enroll/webauthn/options (JSON {name})
// for the creation options, runs navigator.credentials.create and submits the
// attestation in #webauthn-add-form's "credential" field.
// The CSRF token comes from the button's data-csrf attribute and travels in
// the X-CSRF-Token header. Errors go to the page's #error alert region.
'use strict';

(function () {
  function fromB64url(text) {
    var b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function showError(text) {
    var region = document.getElementById('error');
    var notice = document.getElementById('notice');
    if (notice) notice.hidden = true;
    if (!region) return;
    region.textContent = text;
    region.hidden = false;
  }

  function clearError() {
    var region = document.getElementById('error');
    if (region) {
      region.hidden = true;
      region.textContent = '';
    }
  }

  function explain(err) {
    switch (err && err.name) {
      case 'NotAllowedError':
        return 'The request was cancelled or timed out. Select the button to try again.';
      case 'InvalidStateError':
        return 'This passkey or security key is already added. Select the button to try another.';
      case 'SecurityError':
        return 'This browser refused to use a passkey on this site. Try another way.';
      case 'NotSupportedError':
        return 'This device has no passkey or security key that works here. Try another way.';
      case 'ServerError':
        return err.message + ' Select the button to try again.';
      default:
        return 'Something went wrong. Select the button to try again.';
    }
  }

  async function fetchOptions(url, token, body) {
    var response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {})
    });
    var data = await response.json().catch(function () { return {}; });
    if (!response.ok || !data.public_key) {
      var err = new Error(data.message || 'The server could not start this step.');
      err.name = 'ServerError';
      throw err;
    }
    // Accept both the bare options and webauthn-rs's {publicKey: …} wrapper.
    return data.public_key.publicKey || data.public_key;
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64url(c.id) });
    });
  }

  async function assert(button) {
    var options = await fetchOptions('/reset/webauthn/options', button.dataset.csrf);
    options.challenge = fromB64url(options.challenge);
    options.allowCredentials = withIds(options.allowCredentials);
    var cred = await navigator.credentials.get({ publicKey: options });
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(cred.response.authenticatorData),
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        signature: toB64url(cred.response.signature),
        userHandle: toB64url(cred.response.userHandle)
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  async function create(button, name) {
    var options = await fetchOptions('/enroll/webauthn/options', button.dataset.csrf, { name: name || null });
    options.challenge = fromB64url(options.challenge);
    options.user = Object.assign({}, options.user, { id: fromB64url(options.user.id) });
    options.excludeCredentials = withIds(options.excludeCredentials);
    var cred = await navigator.credentials.create({ publicKey: options });
    var transports = cred.response.getTransports ? cred.response.getTransports() : undefined;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64url(cred.response.attestationObject),
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        transports: transports
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  function wire(button, form, ceremony) {
    if (!button || !form) return;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      button.disabled = true;
      showError('This browser cannot use passkeys or security keys. Try another way.');
      return;
    }
    var run = async function () {
      if (button.disabled) return;
      button.disabled = true;
      clearError();
      try {
        var credential = await ceremony();
        form.elements.credential.value = JSON.stringify(credential);
        form.submit();
      } catch (err) {
        showError(explain(err));
        button.disabled = false;
        button.focus();
      }
    };
    button.addEventListener('click', run);
    // Enter in a field would submit without a credential: run the ceremony.
    form.addEventListener('submit', function (event) {
      if (!form.elements.credential.value) {
        event.preventDefault();
        run();
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var start = document.getElementById('webauthn-start');
    wire(start, document.getElementById('webauthn-form'), function () {
      return assert(start);
    });
    var add = document.getElementById('webauthn-add');
    var addForm = document.getElementById('webauthn-add-form');
    wire(add, addForm, function () {
      var name = addForm.elements.name.value.trim();
      return create(add, name);
    });
  });
})();
