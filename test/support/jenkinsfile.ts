// A structural check of a declarative Jenkinsfile, for tests: strings and comments closed, brackets
// balanced, and the declarative sections nested as Jenkins requires (pipeline > agent, stages >
// stage > steps, post). Groovy is only tokenised as far as that needs; no npm package parses
// Jenkinsfiles offline (npm-groovy-lint needs Node 22 and a Java server).

export interface Block {
  /** The word before the block's `{` (stage for `stage('x') {`), or '' for a closure with none. */
  name: string;
  children: Block[];
  /** Words that start statements directly inside the block (e.g. agent in `agent any`). */
  statements: string[];
}

export class JenkinsfileError extends Error {}

/** Parses `text` into its tree of blocks; throws JenkinsfileError on unclosed strings, comments or brackets. */
export function jenkinsfileBlocks(text: string): Block {
  const root: Block = { name: '', children: [], statements: [] };
  const stack: Array<{ block: Block; close: string }> = [{ block: root, close: '' }];
  let word = '';
  let lastWord = '';
  let atStatementStart = true;
  const line = (i: number) => text.slice(0, i).split('\n').length;
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const quote = ["'''", '"""', "'", '"'].find((q) => rest.startsWith(q));
    if (rest.startsWith('//')) {
      i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new JenkinsfileError(`comment opened on line ${line(i)} is never closed`);
      i = end + 2;
      continue;
    }
    if (quote) {
      let j = i + quote.length;
      while (j < text.length && !text.startsWith(quote, j)) j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) throw new JenkinsfileError(`string opened on line ${line(i)} is never closed`);
      i = j + quote.length;
      atStatementStart = false;
      continue;
    }
    const c = text[i]!;
    if (/[A-Za-z_]/.test(c)) {
      word += c;
    } else {
      if (word) {
        if (atStatementStart) stack.at(-1)!.block.statements.push(word);
        lastWord = word;
        word = '';
        atStatementStart = false;
      }
      if (c === '{') {
        const block: Block = { name: lastWord, children: [], statements: [] };
        stack.at(-1)!.block.children.push(block);
        stack.push({ block, close: '}' });
        lastWord = '';
        atStatementStart = true;
      } else if (c === '(' || c === '[') {
        stack.push({ block: stack.at(-1)!.block, close: c === '(' ? ')' : ']' });
      } else if (c === '}' || c === ')' || c === ']') {
        if (stack.length === 1 || stack.at(-1)!.close !== c) throw new JenkinsfileError(`unexpected ${c} on line ${line(i)}`);
        stack.pop();
        if (c === '}') atStatementStart = true;
      } else if (c === '\n' || c === ';') {
        atStatementStart = true;
      } else if (!/\s/.test(c) && c !== '-' && c !== '>') {
        atStatementStart = false;
      }
    }
    i++;
  }
  if (stack.length > 1) throw new JenkinsfileError(`${stack.length - 1} bracket(s) never closed (innermost ${stack.at(-1)!.close})`);
  return root;
}

const child = (block: Block, name: string) => block.children.filter((b) => b.name === name);

/** The declarative sections Jenkins requires, or the first one missing. */
export function checkDeclarativePipeline(text: string): void {
  const [pipeline, ...more] = child(jenkinsfileBlocks(text), 'pipeline');
  if (!pipeline || more.length > 0) throw new JenkinsfileError('expected exactly one top-level pipeline { } block');
  if (!pipeline.statements.includes('agent') && child(pipeline, 'agent').length === 0) throw new JenkinsfileError('pipeline has no agent');
  const [stages] = child(pipeline, 'stages');
  if (!stages) throw new JenkinsfileError('pipeline has no stages { }');
  const stageBlocks = child(stages, 'stage');
  if (stageBlocks.length === 0) throw new JenkinsfileError('stages has no stage');
  for (const stage of stageBlocks) if (child(stage, 'steps').length !== 1) throw new JenkinsfileError('a stage has no steps { }');
  if (child(pipeline, 'post').length !== 1) throw new JenkinsfileError('pipeline has no post { }');
}
