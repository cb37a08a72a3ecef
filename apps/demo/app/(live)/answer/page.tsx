import { AnswerBox } from './answer-box.tsx';

export default function AnswerPage() {
  return (
    <>
      <h1>Streamed answer</h1>
      <p className="muted">
        The ChatGPT pattern without a model: a Server Action starts generating an answer on the server
        (locally, from a few canned sentences), and every token is a publication on{' '}
        <code>answers:&lt;id&gt;</code>. Offsets keep the tokens in order, and a reconnect mid-answer resumes
        where it left off.
      </p>
      <AnswerBox />
    </>
  );
}
