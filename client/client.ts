// The browser client (page reload, CSS swap, error overlay) lands with the channel (issue 4).
// This file exists so the client's own tsconfig (DOM types, no Node types) is in place.
export {};
