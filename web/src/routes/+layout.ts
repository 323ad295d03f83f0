// A single-page app: no server rendering, no prerendering; the server answers every page URL with
// index.html and the router takes over in the browser.
export const ssr = false;
export const prerender = false;
export const trailingSlash = 'never';
