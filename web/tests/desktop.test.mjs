import { DESKTOP } from './support/browser.mjs';
import { mainFlows } from './support/flows.mjs';

mainFlows(DESKTOP, { extraPages: true });
