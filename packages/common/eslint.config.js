export { default } from '@openclip/eslint-config';
