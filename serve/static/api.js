// Calls to the server's public endpoints, the bearer token (sessionStorage only) and errors in plain words.

const TOKEN_KEY = "c4u-token";

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY)),
};

// What each error kind of the API means to someone who does not read JSON; the server's own line follows it.
const PLAIN = {
  bad_image: "A file could not be read as an image.",
  bad_request: "The server could not use the request.",
  too_large: "This is more than the server accepts.",
  text_too_long: "The query or the title is too long for the model.",
  unauthorized: "The access token is missing or wrong.",
  timeout: "The upload took too long.",
  busy: "The server is busy. Try again in a moment.",
  overloaded: "The server is busy. Try again in a moment.",
  not_ready: "The model is still starting. Try again in a moment.",
  unsupported_media_type: "The server could not read the request's format.",
  not_found: "The server has no such address.",
  internal: "The server hit an internal error.",
  network: "The server could not be reached.",
  unreadable: "The server's answer could not be read.",
};

export class ApiError extends Error {
  constructor(status, kind, detail, requestId) {
    super(detail);
    this.status = status;
    this.kind = kind;
    this.detail = detail;
    this.requestId = requestId;
  }

  get summary() {
    return PLAIN[this.kind] || `The server refused the request (${this.status}).`;
  }
}

function headers() {
  const t = token.get();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

function parseAnswer(status, text, requestId) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(status, status >= 400 ? "internal" : "unreadable", `HTTP ${status}, not JSON`, requestId);
  }
  if (status >= 400) {
    const kind = (body && body.kind) || "bad_request";
    throw new ApiError(status, kind, (body && body.error) || `HTTP ${status}`, (body && body.request_id) || requestId);
  }
  return body;
}

/** GET a JSON endpoint; resolves to the parsed body, rejects with an ApiError. */
export async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { headers: headers(), cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "network", String(e.message || e), "");
  }
  return parseAnswer(response.status, await response.text(), response.headers.get("x-request-id") || "");
}

/**
 * POST a multipart form with upload progress (XMLHttpRequest: fetch reports none).
 * ``onUpload(fraction)`` while the body is sent, ``onSent()`` once the server has it all;
 * resolves to the parsed body, rejects with an ApiError (kind "aborted" after ``abort()``).
 */
export function postForm(path, form, { onUpload = () => {}, onSent = () => {} } = {}) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onUpload(e.loaded / e.total);
    xhr.upload.onload = () => onSent();
    xhr.onload = () => {
      try {
        resolve(parseAnswer(xhr.status, xhr.responseText, xhr.getResponseHeader("x-request-id") || ""));
      } catch (e) {
        reject(e);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the connection failed before an answer came", ""));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "cancelled", ""));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
