import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  ICreateClusterRequest,
  ICreateWorkspaceRequest,
  ITemplate,
  ITemplateField,
  IWorkspace
} from './api';

/**
 * Parse `key=value` pairs separated by commas or new lines.
 *
 * Throws with a message naming the first entry that is not a pair.
 */
export function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const entry of text.split(/[,\n]/)) {
    const item = entry.trim();
    if (!item) {
      continue;
    }
    const index = item.indexOf('=');
    if (index <= 0) {
      throw new Error(item);
    }
    tags[item.slice(0, index).trim()] = item.slice(index + 1).trim();
  }
  return tags;
}

/**
 * Parse collaborators: `alice, group:data-eng` → `["user:alice", "group:data-eng"]`.
 */
export function parseCollaborators(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map(item => item.trim())
    .filter(item => item.length > 0)
    .map(item =>
      item.startsWith('user:') || item.startsWith('group:')
        ? item
        : `user:${item}`
    );
}

/**
 * A dialog body holding a value, rendered with React.
 */
abstract class FormBody<T> extends ReactWidget {
  constructor(
    protected trans: TranslationBundle,
    protected values: T,
    protected errorMessage: string | null
  ) {
    super();
    this.addClass('jp-EmrWorkspace-form');
  }

  getValue(): T {
    return this.values;
  }

  protected set<K extends keyof T>(key: K, value: T[K]): void {
    this.values = { ...this.values, [key]: value };
    this.update();
  }

  protected renderError(): JSX.Element | null {
    return this.errorMessage ? (
      <p className="jp-EmrWorkspace-formError" role="alert">
        {this.errorMessage}
      </p>
    ) : null;
  }
}

/**
 * Ask for a value until it validates or the user cancels.
 *
 * `validate` returns an error message, or null when the value is fine; it may
 * also perform the action (and return the server's error to show it in the form).
 */
async function askUntilValid<T>(
  title: string,
  makeBody: (values: T | null, error: string | null) => FormBody<T>,
  accept: string,
  trans: TranslationBundle,
  validate: (value: T) => Promise<string | null> | string | null
): Promise<T | null> {
  let values: T | null = null;
  let error: string | null = null;
  for (;;) {
    const body = makeBody(values, error);
    const result = await showDialog<T>({
      title,
      body,
      focusNodeSelector: 'input, select, textarea',
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: accept })
      ]
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    values = result.value;
    error = await validate(values);
    if (error === null) {
      return values;
    }
  }
}

// ---------------------------------------------------------------------------
// Create Workspace
// ---------------------------------------------------------------------------

interface ICreateWorkspaceValues {
  name: string;
  description: string;
  tags: string;
  collaboration: boolean;
  collaborators: string;
}

class CreateWorkspaceBody extends FormBody<ICreateWorkspaceValues> {
  protected render(): JSX.Element {
    const trans = this.trans;
    const v = this.values;
    return (
      <div className="jp-EmrWorkspace-formFields">
        {this.renderError()}
        <label>
          {trans.__('Name')}
          <input
            className="jp-mod-styled"
            name="name"
            required
            aria-required="true"
            maxLength={256}
            value={v.name}
            onChange={e => this.set('name', e.target.value)}
          />
        </label>
        <label>
          {trans.__('Description')}
          <textarea
            className="jp-mod-styled"
            name="description"
            rows={2}
            value={v.description}
            onChange={e => this.set('description', e.target.value)}
          />
        </label>
        <label>
          {trans.__('Tags')}
          <input
            className="jp-mod-styled"
            name="tags"
            placeholder={trans.__('team=analytics, project=churn')}
            aria-describedby="jp-EmrWorkspace-tagsHelp"
            value={v.tags}
            onChange={e => this.set('tags', e.target.value)}
          />
        </label>
        <span id="jp-EmrWorkspace-tagsHelp" className="jp-EmrWorkspace-help">
          {trans.__('key=value pairs, separated by commas.')}
        </span>
        <label className="jp-EmrWorkspace-checkbox">
          <input
            type="checkbox"
            name="collaboration"
            checked={v.collaboration}
            onChange={e => this.set('collaboration', e.target.checked)}
          />
          {trans.__('Enable collaboration (several editors at once)')}
        </label>
        {v.collaboration && (
          <label>
            {trans.__('Collaborators')}
            <input
              className="jp-mod-styled"
              name="collaborators"
              placeholder={trans.__('alice, group:data-eng')}
              value={v.collaborators}
              onChange={e => this.set('collaborators', e.target.value)}
            />
          </label>
        )}
      </div>
    );
  }
}

/**
 * Ask for a new Workspace and create it with `create`; a server error is shown
 * in the form so the user can fix the name and try again.
 *
 * Resolves with the Workspace, or null when cancelled.
 */
export async function createWorkspaceDialog(
  trans: TranslationBundle,
  create: (request: ICreateWorkspaceRequest) => Promise<IWorkspace>
): Promise<IWorkspace | null> {
  let created: IWorkspace | null = null;
  const empty: ICreateWorkspaceValues = {
    name: '',
    description: '',
    tags: '',
    collaboration: false,
    collaborators: ''
  };
  await askUntilValid<ICreateWorkspaceValues>(
    trans.__('New EMR Workspace'),
    (values, error) => new CreateWorkspaceBody(trans, values ?? empty, error),
    trans.__('Create'),
    trans,
    async values => {
      const name = values.name.trim();
      if (!name) {
        return trans.__('The Workspace needs a name.');
      }
      let tags: Record<string, string>;
      try {
        tags = parseTags(values.tags);
      } catch (error) {
        return trans.__(
          'Tags are key=value pairs separated by commas; "%1" is not one.',
          (error as Error).message
        );
      }
      const request: ICreateWorkspaceRequest = {
        name,
        description: values.description.trim(),
        tags,
        collaboration: {
          enabled: values.collaboration,
          collaborators: values.collaboration
            ? parseCollaborators(values.collaborators)
            : []
        }
      };
      try {
        created = await create(request);
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    }
  );
  return created;
}

// ---------------------------------------------------------------------------
// Delete Workspace
// ---------------------------------------------------------------------------

interface IDeleteValues {
  deleteNotebooks: boolean;
}

/**
 * Where a Workspace's backups are: `<backup_uri>/<id>/` (EMR's key layout).
 */
export function backupLocation(backupUri: string, id: string): string {
  return backupUri ? `${backupUri.replace(/\/+$/, '')}/${id}/` : '';
}

/**
 * What the delete dialog knows besides the Workspace.
 */
export interface IDeleteContext {
  /** What is open in its folder ("2 open documents (…) and 1 running kernel"), or ''. */
  openText?: string;
  /** Whether "Back up now" is offered (this tab holds the Workspace, backups on). */
  canBackUp?: boolean;
}

class DeleteWorkspaceBody extends FormBody<IDeleteValues> {
  constructor(
    trans: TranslationBundle,
    private workspace: IWorkspace,
    private backupUri: string,
    private context: IDeleteContext = {}
  ) {
    super(trans, { deleteNotebooks: false }, null);
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const where =
      backupLocation(this.backupUri, this.workspace.id) ||
      trans.__('the backup location');
    return (
      <div className="jp-EmrWorkspace-formFields">
        <p>
          {trans.__(
            'Delete the Workspace "%1"? Its attachment and settings are removed.',
            this.workspace.name
          )}
        </p>
        <p className="jp-EmrWorkspace-warning" role="note">
          {trans.__(
            'Its working copy on this server (the folder %1) is removed too, including any change not yet backed up.',
            this.workspace.path ?? ''
          )}
          {this.context.canBackUp
            ? ' ' +
              trans.__('Use "Back up now" first to keep the latest changes.')
            : ''}
        </p>
        {this.context.openText && (
          <p className="jp-EmrWorkspace-warning" role="note">
            {trans.__(
              'It has %1 on this server: they are closed without saving and the kernels shut down first.',
              this.context.openText
            )}
          </p>
        )}
        <p className="jp-EmrWorkspace-warning" role="note">
          {trans.__(
            "The notebooks' backups stay in %1 and keep costing storage unless you tick the box below.",
            where
          )}
        </p>
        <label className="jp-EmrWorkspace-checkbox">
          <input
            type="checkbox"
            name="deleteNotebooks"
            checked={this.values.deleteNotebooks}
            onChange={e => this.set('deleteNotebooks', e.target.checked)}
          />
          {trans.__("Also delete the notebooks' backups")}
        </label>
      </div>
    );
  }
}

/**
 * Confirm a deletion. Resolves with whether to delete the notebooks' backups
 * too, 'backup' when the user asked to back up first, or null when cancelled.
 */
export async function deleteWorkspaceDialog(
  trans: TranslationBundle,
  workspace: IWorkspace,
  backupUri: string,
  context: IDeleteContext = {}
): Promise<{ deleteNotebooks: boolean } | 'backup' | null> {
  const buttons = [Dialog.cancelButton({ label: trans.__('Cancel') })];
  if (context.canBackUp) {
    buttons.push(
      Dialog.okButton({
        label: trans.__('Back up now'),
        displayType: 'default',
        actions: ['backup']
      })
    );
  }
  buttons.push(Dialog.warnButton({ label: trans.__('Delete') }));
  const result = await showDialog<IDeleteValues>({
    title: trans.__('Delete EMR Workspace'),
    body: new DeleteWorkspaceBody(trans, workspace, backupUri, context),
    // Enter cancels: deleting takes a deliberate click.
    defaultButton: 0,
    buttons
  });
  if (!result.button.accept) {
    return null;
  }
  if (result.button.actions.includes('backup')) {
    return 'backup';
  }
  if (result.value === null) {
    return null;
  }
  return result.value;
}

// ---------------------------------------------------------------------------
// Create cluster from a template
// ---------------------------------------------------------------------------

interface IClusterValues {
  template: string;
  name: string;
  parameters: Record<string, string>;
}

function defaultParameters(template: ITemplate | undefined) {
  const parameters: Record<string, string> = {};
  for (const field of template?.fields ?? []) {
    parameters[field.name] =
      field.default !== undefined
        ? String(field.default)
        : field.type === 'choice' && field.choices?.length && field.required
          ? field.choices[0]
          : '';
  }
  return parameters;
}

function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    // A pattern JavaScript cannot read is left to the server to check.
    return true;
  }
}

/**
 * Check the form against the template's fields and build the request.
 *
 * Returns an error message, or the request.
 */
export function clusterRequest(
  values: IClusterValues,
  templates: ITemplate[],
  trans: TranslationBundle
): string | ICreateClusterRequest {
  const template = templates.find(t => t.name === values.template);
  if (!template) {
    return trans.__('Choose a template.');
  }
  const name = values.name.trim();
  if (!name) {
    return trans.__('The cluster needs a name.');
  }
  const parameters: Record<string, string | number> = {};
  for (const field of template.fields) {
    const raw = (values.parameters[field.name] ?? '').trim();
    const label = field.label ?? field.name;
    if (!raw) {
      if (field.required) {
        return trans.__('%1 is required.', label);
      }
      continue;
    }
    if (field.type === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value)) {
        return trans.__('%1 must be a number.', label);
      }
      if (field.min !== undefined && value < field.min) {
        return trans.__('%1 must be at least %2.', label, field.min);
      }
      if (field.max !== undefined && value > field.max) {
        return trans.__('%1 must be at most %2.', label, field.max);
      }
      parameters[field.name] = value;
    } else if (field.type === 'choice') {
      if (field.choices && !field.choices.includes(raw)) {
        return trans.__(
          '%1 must be one of: %2.',
          label,
          field.choices.join(', ')
        );
      }
      parameters[field.name] = raw;
    } else {
      if (field.pattern && !fullMatch(field.pattern, raw)) {
        return trans.__('%1 must match %2.', label, field.pattern);
      }
      parameters[field.name] = raw;
    }
  }
  return { template: template.name, name, parameters };
}

class CreateClusterBody extends FormBody<IClusterValues> {
  constructor(
    trans: TranslationBundle,
    private templates: ITemplate[],
    values: IClusterValues,
    error: string | null
  ) {
    super(trans, values, error);
  }

  private setTemplate(name: string): void {
    const template = this.templates.find(t => t.name === name);
    this.values = {
      ...this.values,
      template: name,
      parameters: defaultParameters(template)
    };
    this.update();
  }

  private setParameter(name: string, value: string): void {
    this.set('parameters', { ...this.values.parameters, [name]: value });
  }

  private renderField(field: ITemplateField): JSX.Element {
    const value = this.values.parameters[field.name] ?? '';
    const id = `jp-EmrWorkspace-param-${field.name}`;
    const label = field.label ?? field.name;
    const help: string[] = [];
    if (field.description) {
      help.push(field.description);
    }
    if (field.min !== undefined && field.max !== undefined) {
      help.push(this.trans.__('From %1 to %2.', field.min, field.max));
    } else if (field.min !== undefined) {
      help.push(this.trans.__('At least %1.', field.min));
    } else if (field.max !== undefined) {
      help.push(this.trans.__('At most %1.', field.max));
    }
    const describedBy = help.length > 0 ? `${id}-help` : undefined;
    let input: JSX.Element;
    if (field.type === 'choice') {
      input = (
        <select
          id={id}
          className="jp-mod-styled"
          name={field.name}
          value={value}
          aria-required={field.required ? 'true' : undefined}
          aria-describedby={describedBy}
          onChange={e => this.setParameter(field.name, e.target.value)}
        >
          {!field.required && (
            <option value="">{this.trans.__('(none)')}</option>
          )}
          {(field.choices ?? []).map(choice => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
      );
    } else {
      input = (
        <input
          id={id}
          className="jp-mod-styled"
          name={field.name}
          type={field.type === 'number' ? 'number' : 'text'}
          min={field.min}
          max={field.max}
          value={value}
          required={field.required}
          aria-required={field.required ? 'true' : undefined}
          aria-describedby={describedBy}
          onChange={e => this.setParameter(field.name, e.target.value)}
        />
      );
    }
    return (
      <div key={field.name} className="jp-EmrWorkspace-formField">
        <label htmlFor={id}>
          {label}
          {field.required ? ' *' : ''}
        </label>
        {input}
        {help.length > 0 && (
          <span id={`${id}-help`} className="jp-EmrWorkspace-help">
            {help.join(' ')}
          </span>
        )}
      </div>
    );
  }

  protected render(): JSX.Element {
    const trans = this.trans;
    const template = this.templates.find(t => t.name === this.values.template);
    return (
      <div className="jp-EmrWorkspace-formFields">
        {this.renderError()}
        <label>
          {trans.__('Template')}
          <select
            className="jp-mod-styled"
            name="template"
            value={this.values.template}
            onChange={e => this.setTemplate(e.target.value)}
          >
            {this.templates.map(t => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        {template?.description && (
          <span className="jp-EmrWorkspace-help">{template.description}</span>
        )}
        <label>
          {trans.__('Cluster name')}
          <input
            className="jp-mod-styled"
            name="name"
            required
            aria-required="true"
            value={this.values.name}
            onChange={e => this.set('name', e.target.value)}
          />
        </label>
        {template?.fields.map(field => this.renderField(field))}
      </div>
    );
  }
}

/**
 * Ask for a template and its parameters and create the cluster with `create`.
 */
export async function createClusterDialog<T>(
  trans: TranslationBundle,
  templates: ITemplate[],
  create: (request: ICreateClusterRequest) => Promise<T>
): Promise<T | null> {
  let created: T | null = null;
  const first = templates[0];
  const initial: IClusterValues = {
    template: first?.name ?? '',
    name: '',
    parameters: defaultParameters(first)
  };
  await askUntilValid<IClusterValues>(
    trans.__('Create a cluster from a template'),
    (values, error) =>
      new CreateClusterBody(trans, templates, values ?? initial, error),
    trans.__('Create'),
    trans,
    async values => {
      const request = clusterRequest(values, templates, trans);
      if (typeof request === 'string') {
        return request;
      }
      try {
        created = await create(request);
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    }
  );
  return created;
}

// ---------------------------------------------------------------------------
// Confirmations
// ---------------------------------------------------------------------------

/**
 * A yes/no question. Resolves true when accepted.
 */
export async function confirm(
  trans: TranslationBundle,
  title: string,
  message: string,
  accept: string,
  options: { warn?: boolean } = {}
): Promise<boolean> {
  const result = await showDialog({
    title,
    body: message,
    defaultButton: options.warn ? 0 : 1,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      options.warn
        ? Dialog.warnButton({ label: accept })
        : Dialog.okButton({ label: accept })
    ]
  });
  return result.button.accept;
}
