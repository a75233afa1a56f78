"""The caller's side of a simulated call: the script's turns in order, pauses and silence,
the caller's speech with its interim transcripts, barge-in timing, and what the agent
does after each turn (background work, the turn's action)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import lru_cache

from .. import events as ev
from .caller import CallerTurn


class CallerScript:
    """Plays ``plan``'s caller turns (a part of :class:`Conversation`)."""

    async def play_script(self) -> None:
        """The caller's turns in order; silent turns wait; when the script runs out the
        caller answers the agent's follow-up questions from its rules, then hangs up."""
        persona, turns = self.plan.persona, list(self.plan.turns)
        interrupted, follow_ups, i = False, 0, 0
        while True:
            if i == len(turns) and self.plan.next_turn is not None:
                live = await self.plan.next_turn()
                if live is None:
                    return
                turns.append(live)
            if i == len(turns):
                answer = self.plan.follow_up(self.last_reply) \
                    if follow_ups < persona.max_follow_ups else None
                if answer is None:
                    return
                follow_ups += 1
                turns.append(CallerTurn(answer, persona.pause_ms, None, persona.words_per_s))
            turn = turns[i]
            i += 1
            if not turn.text:  # the caller says nothing for the turn's pause
                await self.wait_for_caller_turn(turn)
                interrupted = False
                continue
            self.barge_after_ms = turn.interrupt_reply_ms if turn.interrupt_reply_ms \
                is not None else self._barge_in(turns[i] if i < len(turns) else None)
            # a live call plays the next turn's audio over the reply
            self.barge_turn = turns[i] if self.barge_after_ms is not None and \
                i < len(turns) else None
            interrupted = await self.user_turn(turn, skip_pause=interrupted)
            rest = self.cut_rest
            # cut off in a pause: the rest of the turn comes next, with its action
            await self.after_reply(turn if rest is None else replace(turn, action=None))
            if rest is not None:
                turns.insert(i, rest)
                self.cut_rest, self.resume_at_ms = None, None
                interrupted = True

    def _barge_in(self, nxt: CallerTurn | None) -> float | None:
        """When the caller will talk over the coming reply: scripted, or the persona's
        habit (drawn only when it has one, so scripts without it draw nothing)."""
        if nxt is None or not nxt.text:
            return None
        if nxt.barge_in_ms is not None:
            return nxt.barge_in_ms
        p = self.plan.persona
        if p.barge_in_probability > 0 and self.rng.random() < p.barge_in_probability:
            return p.barge_in_ms
        return None

    async def after_reply(self, turn: CallerTurn) -> None:
        """Background work the agent starts after a turn, then the turn's action."""
        behaviour, done = self.plan.agent, self.turn_count
        every = behaviour.memory_every_turns
        if every and done % every == 0:
            self.start_background(self.extract_memory(self.user_texts[-every:],
                                                      behaviour.memory_ms))
        for sub in behaviour.subagents:
            if sub.after_turn == done:
                self.start_background(self.run_subagent(sub))
        if turn.action:
            kind, _, target = turn.action.partition(":")
            if kind == "transfer_human":
                await self.session.transfer_to_human(target or "default")
            elif kind == "transfer_agent":
                await self.session.transfer_to_agent(target or "agent")
            elif kind == "end":
                await self.session.end("ended")
            elif kind == "hangup":
                self.end("hangup")
            await self.sleep(0)  # raises CallEnded if the action ended the call

    async def wait_for_caller_turn(self, turn: CallerTurn) -> None:
        """The caller's pause before speaking; ``silence`` fires once if it lasts
        ``silence_timeout_ms`` (the configured quiet time)."""
        pause = turn.pause_ms
        if pause > self.silence_timeout_ms:
            await self.sleep(self.silence_timeout_ms)
            await self.session.bus.emit(ev.Silence, self.silence_timeout_ms / 1000.0)
            pause -= self.silence_timeout_ms
        await self.sleep(pause)

    async def user_turn(self, turn: CallerTurn, skip_pause: bool = False) -> bool:
        """Play one caller turn and the agent's reply; True if the caller barged in."""
        bus = self.session.bus
        if not skip_pause:
            await self.wait_for_caller_turn(turn)
        bus.turn_id += 1
        s2s = self.profile.mode == "s2s"
        words, breaks, said = _words_and_breaks(turn.text, self.plan.persona.hesitation_ms)
        if said != turn.text:
            turn = replace(turn, text=said)  # what the caller says, without the marks
        if not breaks and not s2s and not turn.rest_of_cut:
            breaks = self._hesitation(words)
        # realtime models send no partials
        speak_ms, partials, stops = _speech_shape(
            words, turn.words_per_s, 0.0 if s2s else self.stt.partial_every_ms, breaks)
        # The caller talks on its own clock: a slow hook on these events does not slow
        # the speech down, it only delays what fires after it.
        start = self.now()
        speech = [(start, ev.UserSpeechStart, ())]
        speech += [(start + spoken, ev.SttPartial, text) for spoken, text in partials]
        cut = None
        if stops and not s2s:  # the turn detector over the caller's pauses
            detected, cut = self.pause_steps(start, stops, words, turn.reply)
            speech += detected
        if cut is not None:  # the detector ended the turn in a pause: the rest talks over
            stop, n, resume_at = cut
            speak_ms = stop.at - start
            speech = [step for step in speech if step[0] <= stop.at]
            self.cut_rest = replace(turn, text=" ".join(words[n:]), pause_ms=0.0,
                                    barge_in_ms=None, rest_of_cut=True)
            self.resume_at_ms = resume_at
            turn = replace(turn, text=" ".join(words[:n]), reply=None, tool_calls=(),
                           action=None)
        if stops:
            speech.sort(key=_instant)  # stable: equal instants keep their order
        speech.append((start + speak_ms, ev.UserSpeechEnd, ()))
        await self.play(speech)
        self.user_texts.append(turn.text)
        self.current = turn
        patience = self.plan.persona.patience_ms
        if patience is not None:  # the caller hangs up if the answer takes too long
            self.patience_timer = asyncio.get_running_loop().call_later(
                patience / 1000.0, self.end, "hangup")
        if s2s:
            return await self.realtime_turn(turn)
        return await self.cascade_turn(turn, speak_ms, None if cut is None else cut[0])

    def _hesitation(self, words: tuple[str, ...]) -> tuple[tuple[int, float], ...]:
        """A drawn pause mid-sentence (the persona's habit; drawn only when it has one,
        so scripts without it draw nothing)."""
        p = self.plan.persona
        if p.hesitation_probability <= 0 or len(words) < 4 or \
                self.rng.random() >= p.hesitation_probability:
            return ()
        return ((int(self.rng.integers(2, len(words) - 1)), p.hesitation_ms),)


def _instant(step: tuple) -> float:
    return step[0]


HESITATION = "..."


@lru_cache(maxsize=4096)
def _words_and_breaks(text: str, pause_ms: float) -> tuple[tuple[str, ...], tuple, str]:
    """The words of a turn, its marked pauses and what the caller says: ``"..."`` alone
    or ending a word is a pause of ``pause_ms`` after it, as ``((words before it, ms),
    ...)``; the text is ``text`` itself when it has no marks. Scripts repeat: kept."""
    if HESITATION not in text:
        return tuple(text.split()), (), text
    words, breaks = [], []
    for word in text.split():
        if not word.endswith(HESITATION):
            words.append(word)
            continue
        if word != HESITATION:
            words.append(word[:-len(HESITATION)])
        if words and (not breaks or breaks[-1][0] != len(words)):
            breaks.append((len(words), pause_ms))
    breaks = [b for b in breaks if b[0] < len(words)]  # a pause at the end is no pause
    return tuple(words), tuple(breaks), " ".join(words)


@lru_cache(maxsize=4096)
def _speech_shape(words: tuple[str, ...], words_per_s: float, partial_every_ms: float,
                  breaks: tuple[tuple[int, float], ...] = ()) -> tuple:
    """How long the caller speaks ``words`` (its pauses included), the interim
    transcripts while it does, every ``partial_every_ms`` of speech (0: none), and where
    it pauses: ``(speak_ms, ((ms into the turn, (transcript,)), ...), ((ms into the turn
    the pause starts, its ms, words before it), ...))``. Scripts repeat across calls, so
    shapes are kept."""
    word_ms = 1000.0 / words_per_s
    talk_ms = len(words) * word_ms
    stops = []
    paused = 0.0
    for n, ms in breaks:
        stops.append((n * word_ms + paused, ms, n))
        paused += ms
    partials, spoken = [], 0.0
    while partial_every_ms > 0 and spoken + partial_every_ms < talk_ms:
        spoken += partial_every_ms
        n = max(1, int(len(words) * spoken / talk_ms))
        # the pauses before this much speech move it later
        offset = sum(ms for at_n, ms in breaks if at_n * word_ms < spoken)
        partials.append((spoken + offset, (" ".join(words[:n]),)))
    return talk_ms + paused, tuple(partials), tuple(stops)
