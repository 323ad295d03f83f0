import { redirect } from '@sveltejs/kit';
import type { PageLoad } from './$types';

// The ActivityPub id of an account (/accounts/:name) opened in a browser: its page is /a/:name.
export const load: PageLoad = ({ params }) => {
  redirect(308, `/a/${encodeURIComponent(params.name).replace(/%40/g, '@')}`);
};
