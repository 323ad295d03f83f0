import { redirect } from '@sveltejs/kit';
import type { PageLoad } from './$types';

// The ActivityPub id of a channel (/video-channels/:name) opened in a browser: its page is /c/:name.
export const load: PageLoad = ({ params }) => {
  redirect(308, `/c/${encodeURIComponent(params.name).replace(/%40/g, '@')}`);
};
