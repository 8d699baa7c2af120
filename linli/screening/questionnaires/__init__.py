"""Questionnaire definitions: a versioned JSON document, read and checked by pure functions.

A definition is plain JSON so that it can be stored on a QuestionnaireVersion, edited in the
browser, spoken by the phone robot and filled in on a door-knock form without any of them
knowing more than this package. Nothing here touches the database.

Modules: `schema` (kinds, the definition's shape and its validation), `conditions` (the rule
language), `routing` (branching: which questions are asked), `risk` (risk rules),
`answers` (parsing raw answers), `templates` (the ready questionnaires, data files in
`data/`), `display` (how a definition is shown in the builder).

Shape (schema 1)::

    {
      "schema": 1,
      "title": "来返人员排查",
      "intro": "…who asks, why, on which legal basis (PIPL art. 13(1)(4))…",
      "closing": "…thanks, what happens next…",
      "lists": {"risk_areas": ["武汉市", "…"]},          # named lists the rules refer to
      "list_labels": {"risk_areas": "中高风险地区"},      # what people call them (optional)
      "next_key": 12,                                    # the builder's key counter (optional)
      "questions": [
        {"key": "temperature", "text": "…", "kind": "number", "required": true,
         "min": 34, "max": 43,
         "next": [{"when": {"q": "temperature", "op": "lt", "value": 37.3}, "goto": "end"}]},
        {"key": "symptoms", "text": "…", "kind": "multiple_choice", "required": true,
         "options": [{"code": "fever", "label": "发热"},
                     {"code": "none", "label": "以上都没有", "exclusive": true}]},
        …
      ],
      "risk_rules": [
        {"when": {"any": [{"q": "temperature", "op": "gte", "value": 37.3},
                          {"q": "symptoms", "op": "contains", "value": "fever"}]},
         "level": "high", "follow_ups": ["door_visit"], "reason": "发热"}
      ]
    }

Branching: after a question is answered its `next` rules are tried in order; the first whose
`when` holds (a rule without `when` always holds) jumps to its `goto` (a later question's key,
or "end"); when none holds the following question comes next. A jump may only go forward, so a
questionnaire can never loop.

Conditions form a small rule language with no code in it: a leaf `{"q": key, "op": op,
"value": v}` or `{"all": [...]}`, `{"any": [...]}`, `{"not": condition}`. Operators:
eq, ne, gt, gte, lt, lte, in, contains, answered, within_days (see OPERATORS_BY_KIND for which
apply to which kind of question). A list value may be written inline or as `{"list": name}`
naming one of the definition's `lists`, so a community updates the listed risk areas in one
place. A leaf about an unanswered question is false (an unknown is not evidence), except
`answered`.

Keys, option codes and list names are for programs; people never see them. The builder makes
them up as `q<n>`, `o<n>` and `list<n>`, taking n from `next_key`, which it only ever raises,
so a deleted question's key is never given to another one.

Answers are JSON values: yes_no → bool, single_choice → option code, multiple_choice → list of
codes, number → int or float, date → ISO "YYYY-MM-DD", short_text → str; an optional question
skipped on purpose is stored as None.
"""
