import * as React from 'react';

import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { requestAPI } from './handler';

/**
 * One Spark session of the Workspace on the local engine, with its links.
 */
export interface IAppUiSession {
  session_id: number;
  kind?: string | null;
  state?: string | null;
  spark_ui: string | null;
  driver_log: string;
  reason?: string | null;
}

/**
 * `GET workspaces/{id}/app-ui`: links to the Spark UI and driver logs of the
 * attached cluster. The URLs are paths on this server: opening one is checked
 * (the Workspace's holder only) and recorded in the audit log there.
 */
export interface IAppUiLinks {
  sessions: IAppUiSession[];
  links: { label: string; url: string }[];
  reason: string | null;
}

export function fetchAppUiLinks(
  workspaceId: string,
  settings?: ServerConnection.ISettings
): Promise<IAppUiLinks> {
  return requestAPI<IAppUiLinks>(
    `workspaces/${encodeURIComponent(workspaceId)}/app-ui`,
    {},
    settings
  );
}

function Link(props: { href: string; label: string }): JSX.Element {
  return (
    <a href={props.href} target="_blank" rel="noopener noreferrer">
      {props.label}
    </a>
  );
}

/**
 * The "Spark UI and logs" part of the panel's Compute section, for the
 * Workspace that is open and attached.
 */
export function SparkLinks(props: {
  workspaceId: string;
  trans: TranslationBundle;
  settings?: ServerConnection.ISettings;
}): JSX.Element {
  const { workspaceId, trans, settings } = props;
  const [links, setLinks] = React.useState<IAppUiLinks | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [round, setRound] = React.useState(0);
  React.useEffect(() => {
    let current = true;
    fetchAppUiLinks(workspaceId, settings).then(
      answer => current && (setLinks(answer), setError(null)),
      (reason: Error) => current && (setLinks(null), setError(reason.message))
    );
    return () => {
      current = false;
    };
  }, [workspaceId, round]);
  const id = 'jp-EmrWorkspace-sparkLinksHeading';
  return (
    <div className="jp-EmrWorkspace-group jp-EmrWorkspace-sparkLinks">
      <h4 id={id}>
        {trans.__('Spark UI and logs')}{' '}
        <button
          type="button"
          className="jp-mod-styled jp-EmrWorkspace-button"
          onClick={() => setRound(round + 1)}
        >
          {trans.__('Refresh')}
        </button>
      </h4>
      {error && (
        <div className="jp-EmrWorkspace-error" role="alert">
          {error}
        </div>
      )}
      {links && (
        <ul aria-labelledby={id}>
          {links.sessions.map(s => (
            <li key={s.session_id}>
              {trans.__('Session %1', s.session_id)}
              {s.kind ? ` (${s.kind}, ${s.state ?? ''})` : ''}:{' '}
              {s.spark_ui ? (
                <Link href={s.spark_ui} label={trans.__('Spark UI')} />
              ) : (
                <span>{s.reason}</span>
              )}{' '}
              · <Link href={s.driver_log} label={trans.__('Driver log')} />
            </li>
          ))}
          {links.links.map(link => (
            <li key={link.url}>
              <Link href={link.url} label={link.label} />
            </li>
          ))}
        </ul>
      )}
      {links?.reason && (
        <div className="jp-EmrWorkspace-empty">{links.reason}</div>
      )}
    </div>
  );
}
