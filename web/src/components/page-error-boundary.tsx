// Keeps a page's rendering failure inside the page: the navigation stays usable and the error is shown
// with a way to retry, instead of a blank console.

import { Component, type ReactNode } from 'react';
import { Alert, Button, Code, Stack } from '@mantine/core';

interface State { error: Error | null }

export class PageErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, State> {
  state: State = { error: null };
  static getDerivedStateFromError(error: Error): State { return { error }; }
  componentDidUpdate(prev: { resetKey: string }) { if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null }); }
  render() {
    if (!this.state.error) return this.props.children;
    return (
      <Alert color="red" title="This page failed to render" data-state="error">
        <Stack gap="xs" align="flex-start">
          <Code block>{this.state.error.message}</Code>
          <Button size="xs" variant="light" color="red" onClick={() => this.setState({ error: null })}>Retry</Button>
        </Stack>
      </Alert>
    );
  }
}
