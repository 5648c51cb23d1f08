// The sign-in page after a sign-out (helpline/accounts/views.py, sign_out): whatever page the person signed
// out from, the console's sealed chat records in this browser go now, not when the console is next opened
// (docs/privacy.md, "The counsellor's console"). The device key (device-store.js) stays: it is the enrolled
// device, not anything of a chat.
import { forgetConsoleChats } from "./transcript-store.js";

forgetConsoleChats().catch(() => {});
