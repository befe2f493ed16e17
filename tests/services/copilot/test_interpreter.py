"""Both copilot interpreters: the offline grammar over the project's words, and the LLM over a loopback chat server."""

from __future__ import annotations

import pytest

from services.copilot.interpreter import Named, NotUnderstood, Proposal, Vocabulary, interpret
from services.copilot.llm import LLMInterpreter, interpret_with_fallback
from services.errors import ProviderAuthError
from services.providers.base import ProviderConfig
from tests.fakes.chat_server import FakeChatServer

VOCAB = Vocabulary(
    scenes=(Named('s1', 'Launch pad'), Named('s2', 'Café table'), Named('s3', 'Night street')),
    characters=(Named('c1', 'Eileen'), Named('c2', 'Grace')),
)


def proposal(text: str) -> Proposal:
    result = interpret(text, VOCAB)
    assert isinstance(result, Proposal), result
    return result


@pytest.mark.parametrize(
    ('text', 'stage', 'scene_ids', 'candidates', 'extra'),
    [
        ('style lock scenes 1 to 3 with 2 candidates', 'style', ['s1', 's2', 's3'], 2, {}),
        ('Style-lock scenes 1–2, three candidates', 'style', ['s1', 's2'], 3, {}),
        ('night on scene 2', 'time', ['s2'], 3, {'time': 'night'}),
        ('rain on night street with 4 candidates', 'weather', ['s3'], 4, {'weather': 'rain'}),
        ('fog at dusk on scenes 2-3', 'weather', ['s2', 's3'], 3, {'weather': 'fog', 'time': 'dusk'}),
        ('place Grace in the cafe table', 'character', ['s2'], 3, {'character_ids': ['c2']}),
        ('characters on all scenes', 'character', None, 3, {'character_ids': None}),
    ],
)
def test_grammar_reads_runs_in_the_projects_words(text, stage, scene_ids, candidates, extra) -> None:
    p = proposal(text)
    assert p.type == 'pipeline_run' and p.source == 'grammar'
    assert p.inputs['stage'] == stage and p.inputs['scene_ids'] == scene_ids
    assert p.constraints == {'candidates': candidates, 'mode': 'run'}
    assert all(p.inputs[k] == v for k, v in extra.items())


def test_grammar_reads_the_other_instruction_types() -> None:
    assert proposal('check the style candidates').inputs['stage'] == 'style'
    assert proposal('qa scene 1').type == 'qa_check'
    assert proposal('export cbz chapter 2').inputs == {'format': 'cbz', 'chapter': 2}
    assert proposal('back up the project').type == 'backup'
    pp = proposal('remove background and upscale 4x the approved character images')
    assert pp.type == 'postprocess' and pp.inputs['steps'] == ['bg', 'upscale'] and pp.inputs['scale'] == 4
    assert proposal('recolour with cinematic warm').inputs['profile'] == 'cinematic_warm'
    assert proposal('ask the agent to draft a cover blurb').objective == 'draft a cover blurb'


@pytest.mark.parametrize(
    ('text', 'says'),
    [
        ('florp the wibble', 'could not match'),
        ('style lock scene 7', 'no scene 7'),
        ('style lock with 12 candidates', '1–8'),
        ('export', 'Which format'),
        ('recolour with sepia', 'Which colour profile'),
        ('', 'empty'),
    ],
)
def test_unclear_requests_are_not_guessed(text, says) -> None:
    result = interpret(text, VOCAB)
    assert isinstance(result, NotUnderstood) and says in result.message
    assert result.suggestions


@pytest.fixture
def chat():
    with FakeChatServer() as server:
        yield server


def llm(server: FakeChatServer, **options) -> LLMInterpreter:
    config = ProviderConfig(
        kind='chat',
        name='Fake chat',
        base_url=server.base_url,
        model='fake-chat',
        api_key='sk-chat-good',
        options={'retry_base_s': 0.05, **options},
    )
    return LLMInterpreter(config)


def test_llm_tool_call_is_parsed_and_checked_against_the_vocabulary(chat) -> None:
    chat.answer({'type': 'pipeline_run', 'stage': 'style', 'scenes': [1, 'Night street'], 'candidates': 2})
    result = llm(chat).interpret('lock the style of the first and the night scene, two each', VOCAB)
    assert isinstance(result, Proposal) and result.source == 'llm'
    assert result.inputs['scene_ids'] == ['s1', 's3'] and result.constraints['candidates'] == 2
    sent = chat.chat_requests()[0].json
    assert sent['model'] == 'fake-chat'
    assert sent['tools'][0]['function']['name'] == 'propose_instruction'
    assert sent['tool_choice'] == {'type': 'function', 'function': {'name': 'propose_instruction'}}
    assert 'Night street' in sent['messages'][0]['content']
    assert 'stage' in sent['tools'][0]['function']['parameters']['properties']


def test_llm_unknown_scene_is_not_understood(chat) -> None:
    chat.answer({'type': 'pipeline_run', 'stage': 'style', 'scenes': ['Moon base']})
    result = llm(chat).interpret('style lock the moon base', VOCAB)
    assert isinstance(result, NotUnderstood) and 'Moon base' in result.message


def test_llm_server_error_is_retried(chat) -> None:
    chat.fail_next(500)
    chat.answer({'type': 'backup'})
    result = llm(chat).interpret('please back everything up', VOCAB)
    assert isinstance(result, Proposal) and result.type == 'backup'
    assert [r.status for r in chat.chat_requests()] == [500, 200]


def test_llm_garbage_falls_back_to_the_grammar_and_says_so(chat) -> None:
    chat.answer('{"type": "pipeline_run", "stage": ')
    result, note = interpret_with_fallback('style lock scene 1', VOCAB, llm(chat))
    assert isinstance(result, Proposal) and result.source == 'grammar'
    assert 'offline interpreter' in note and 'did not answer with an instruction' in note


def test_llm_without_a_tool_call_or_with_a_bad_key_falls_back(chat) -> None:
    chat.answer_raw({'role': 'assistant', 'content': 'Sure! I will do that.'})
    result, note = interpret_with_fallback('back up', VOCAB, llm(chat))
    assert isinstance(result, Proposal) and 'offline' in note
    bad = LLMInterpreter(ProviderConfig(kind='chat', name='Fake chat', base_url=chat.base_url, api_key='wrong'))
    with pytest.raises(ProviderAuthError):
        bad.interpret('back up', VOCAB)
    assert chat.chat_requests()[-1].status == 401 and len(chat.chat_requests()) == 2  # a refused key is not retried


def test_llm_timeout_falls_back() -> None:
    with FakeChatServer(latency_s=1.0) as slow:
        result, note = interpret_with_fallback('back up', VOCAB, llm(slow, timeout_s=0.2, max_retries=0))
    assert isinstance(result, Proposal) and 'did not answer within' in note


def test_more_candidates_take_the_scenes_current_stage() -> None:
    vocab = Vocabulary(scenes=(Named('s1', 'Launch pad', 'time'), Named('s2', 'Café table'), Named('s3', 'Night')))
    p = interpret('make 3 more candidates for scene 1', vocab)
    assert isinstance(p, Proposal) and p.inputs['stage'] == 'time' and p.inputs['scene_ids'] == ['s1']
    assert p.constraints['candidates'] == 3 and p.inputs['time'] is None  # each scene's own time
    assert (
        p.objective
        == "Time of day → each scene's own (its current stage) on scene 1 (Launch pad) with 3 candidates each"
    )
    p = interpret('two more takes on scenes 2-3', vocab)
    assert isinstance(p, Proposal) and p.inputs['stage'] == 'style' and p.constraints['candidates'] == 2
    mixed = interpret('make 3 more candidates', vocab)
    assert isinstance(mixed, NotUnderstood) and 'different stages (style, time)' in mixed.message


def test_grammar_reads_a_layout_request() -> None:
    p = proposal('lay out chapter 1')
    assert (p.type, p.inputs) == ('layout', {'chapter': 1, 'template': None, 'stage': None})
    assert p.objective == 'Lay out the approved panels of chapter 1 on new pages'
    p = proposal('Auto-layout chapter 2 with the four template using the time images')
    assert p.inputs == {'chapter': 2, 'template': 'four', 'stage': 'time'}
    assert proposal('make the pages').inputs['chapter'] == 1
    assert proposal('lay out chapter 3 with night panels').type == 'layout'  # not a night run
