import { LabIcon } from '@jupyterlab/ui-components';

// A stack of three discs (a cluster) drawn with the theme's icon colour.
const emrSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7.6 2 4 3.3 4 5v2c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3z"/>
    <path d="M4 10v3c0 1.7 3.6 3 8 3s8-1.3 8-3v-3c-1.7 1.3-4.7 2-8 2s-6.3-.7-8-2z"/>
    <path d="M4 16v3c0 1.7 3.6 3 8 3s8-1.3 8-3v-3c-1.7 1.3-4.7 2-8 2s-6.3-.7-8-2z"/>
  </g>
</svg>`;

export const emrWorkspaceIcon = new LabIcon({
  name: 'jupyter-emr-workspace:icon',
  svgstr: emrSvg
});
