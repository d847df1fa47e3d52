// ChatPortal mini-program sample. The server address and how to sign in are in utils/config.js.
App({});
