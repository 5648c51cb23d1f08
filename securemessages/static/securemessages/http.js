// JSON requests for the mailbox pages: a refusal becomes a RequestFailed with the server's status and answer
// ({error, message}); a network failure is status 0. Visitors send no cookie; staff send the CSRF header.

export class RequestFailed extends Error {
  constructor(status, answer) {
    super(answer.message || String(status));
    this.status = status;
    this.answer = answer;
  }
}

export async function requestJson(method, path, body = null, { csrf = null, networkMessage = "" } = {}) {
  const headers = { Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  if (body && csrf) headers["X-CSRFToken"] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method, headers, cache: "no-store", credentials: csrf ? "same-origin" : "omit",
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    throw new RequestFailed(0, { message: networkMessage });
  }
  const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new RequestFailed(response.status, answer);
  return answer;
}
