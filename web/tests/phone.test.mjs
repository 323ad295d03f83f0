import { PHONE } from './support/browser.mjs';
import { mainFlows } from './support/flows.mjs';

mainFlows(PHONE, { extraPages: true });
