import { HubDashboard } from './hub-dashboard.tsx';

export default function DashboardPage() {
  return (
    <>
      <h1>Live dashboard</h1>
      <p className="muted">
        Once a second the server publishes the hub’s own numbers on <code>dashboard:hub</code>. The chart
        starts from the channel’s history (the last two minutes) and then follows it live.
      </p>
      <HubDashboard />
    </>
  );
}
