import { error } from '@sveltejs/kit';

// Any other address: a 404 shown inside the site's frame (header and menu), by (app)/+error.svelte.
export function load() {
  error(404, 'Not found');
}
