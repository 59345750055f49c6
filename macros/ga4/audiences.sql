{#- The user_attributes columns an audience rule may test, and how (text or number). The seed
    test `accepted_values` on audiences.attribute keeps the two lists in step. -#}
{% macro audience_attributes() -%}
    {{ return({
        'country': 'text', 'device_category': 'text', 'platform': 'text',
        'lifecycle_stage': 'text', 'value_segment': 'text', 'engagement_segment': 'text',
        'ads_consent_status': 'text', 'first_touch_source': 'text', 'first_touch_medium': 'text',
        'last_touch_source': 'text', 'last_touch_medium': 'text', 'last_touch_channel_group': 'text',
        'is_logged_in_user': 'text',
        'lifetime_sessions': 'number', 'lifetime_engaged_sessions': 'number',
        'lifetime_conversions': 'number', 'lifetime_purchases': 'number',
        'lifetime_revenue_usd': 'number', 'days_since_last_seen': 'number',
        'days_since_first_seen': 'number',
    }) }}
{%- endmacro %}

{#- The attributes the audience rules use now (the seed audiences, looked up when the model is
    built, after the seeds), in the order of audience_attributes: the members view reads only
    these columns of the people, not every attribute a rule could test, so each read of the
    audiences (their data tests, audience_metrics) reads a few columns of every person, not
    twenty. Every attribute where there is nothing to ask (parsing, the offline proof, a unit
    test, a seed not loaded yet) or no rule. -#}
{% macro audience_attributes_in_use() -%}
    {%- set every = audience_attributes().keys() | list -%}
    {%- if not execute or var('ga4_render_offline', false) or model.resource_type == 'unit_test' -%}
        {{ return(every) }}
    {%- endif -%}
    {%- set rules = load_relation(ref('audiences')) -%}
    {%- if rules is none -%}
        {{ return(every) }}
    {%- endif -%}
    {%- set lookup -%}
        {{ truffle_lookup_name('audience attributes') }}
        select distinct attribute from {{ rules }}
    {%- endset -%}
    {#- the members view and audience_metrics both ask: sent once per invocation -#}
    {%- set used = truffle_lookup_once(lookup).columns[0].values() | map('string') | list -%}
    {#- no rule (an empty seed) reads every attribute: a CASE needs a WHEN -#}
    {{ return((every | select('in', used) | list) or every) }}
{%- endmacro %}

{#- SQL: for each audience of `rules` (the seed audiences) and each row of `rows` (a CTE
    holding user_attributes columns: `attributes`, audience_attributes_in_use) meeting every
    rule of the audience, its audience_id, audience_name, the row's `columns` (which must
    identify the row) and its `carried` columns (taken as they are: a query that reads none
    of them does not read them). Said once for the members view (a row per person) and
    audience_metrics (a row per person and day of their sessions, with the person's
    attributes, so that a query of some days evaluates only the people of those days).
    Operators: = != in >= > <= <; `in` takes a
    |-separated list; numbers compare as numbers; a rule on an attribute not in `attributes`
    (added to the seed since the view was built) fails the query instead of matching no one. -#}
{% macro audience_rows_meeting_rules(rows, rules, columns, attributes, carried=[]) -%}
    {%- set new_attribute_message -%}
        concat(
            'audiences: rule attribute ', {{ rules }}.attribute,
            ' is new since this view was built; run: dbt build -s int_audience_members_evaluated+'
        )
    {%- endset -%}
    {%- set numbers = {'attribute': truffle_safe_cast('attribute_value', 'float'), 'rule': truffle_safe_cast('rule_value', 'float')} %}
    select
        rule_tallies.audience_id,
        rule_tallies.audience_name,
        {%- for column in columns + carried %}
        rule_tallies.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        -- how many of its audience's rules each row meets
        select
            audience_id,
            audience_name,
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            {%- for column in carried %}
            max({{ column }}) as {{ column }},
            {%- endfor %}
            {{ truffle_countif('coalesce(is_rule_met, false)') }} as rules_met
        from (
            -- each (rule, row): does the row's value of the rule's attribute, as lower-case
            -- text, satisfy it? A rule reads one attribute, picked by name
            select
                audience_id,
                audience_name,
                {%- for column in columns + carried %}
                {{ column }},
                {%- endfor %}
                case rule_operator
                    when '=' then attribute_value = lower(rule_value)
                    when '!=' then attribute_value != lower(rule_value)
                    when 'in'
                        then strpos(
                                concat('|', lower(rule_value), '|'),
                                concat('|', attribute_value, '|')
                            ) > 0
                    when '>=' then {{ numbers.attribute }} >= {{ numbers.rule }}
                    when '>' then {{ numbers.attribute }} > {{ numbers.rule }}
                    when '<=' then {{ numbers.attribute }} <= {{ numbers.rule }}
                    when '<' then {{ numbers.attribute }} < {{ numbers.rule }}
                end as is_rule_met
            from (
                select
                    {{ rules }}.audience_id,
                    {{ rules }}.audience_name,
                    {{ rules }}.operator as rule_operator,
                    {{ rules }}.value as rule_value,
                    {%- for column in columns + carried %}
                    {{ rows }}.{{ column }},
                    {%- endfor %}
                    case {{ rules }}.attribute
                        {%- for attribute in attributes %}
                        when '{{ attribute }}' then lower(cast({{ rows }}.{{ attribute }} as {{ truffle_type('string') }}))
                        {%- endfor %}
                        else {{ truffle_raise(new_attribute_message) }}
                    end as attribute_value
                from {{ rules }}
                cross join {{ rows }}
            ) as rule_values
        ) as rule_results
        group by
            audience_id,
            audience_name,
            {%- for column in columns %}
            {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
    ) as rule_tallies
    -- a row meets every rule of the audience
    inner join (
        select
            audience_id,
            count(*) as rule_count
        from {{ rules }}
        group by audience_id
    ) as audience_rule_counts
        on rule_tallies.audience_id = audience_rule_counts.audience_id
    where rule_tallies.rules_met = audience_rule_counts.rule_count
{%- endmacro %}
