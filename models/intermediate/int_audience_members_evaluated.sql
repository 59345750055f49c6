{{ config(materialized='view', meta={'check_window_column': 'last_seen_date'}) }}

{%- set new_attribute_message -%}
    concat(
        'audiences: rule attribute ', audience_rules.attribute,
        ' is new since this view was built; run: dbt build -s int_audience_members_evaluated+'
    )
{%- endset %}

with

users as (
    select * from {{ ref('user_attributes') }}
),

audience_rules as (
    select * from {{ ref('audiences') }}
),

-- each (rule, user): the user's value of the rule's attribute, as lower-case text. A rule
-- reads one attribute, picked by name, so only the rules asked about are evaluated (rather
-- than every attribute of every user unpivoted to rows first and joined to the rules); only
-- the attributes the rules used when this view was built are read, and a rule added since
-- on another attribute fails the query instead of matching no one
rule_values as (
    select
        audience_rules.audience_id,
        audience_rules.audience_name,
        audience_rules.operator as rule_operator,
        audience_rules.value as rule_value,
        users.unified_user_id,
        users.last_seen_date,
        case audience_rules.attribute
            {%- for attribute in audience_attributes_in_use() %}
                when '{{ attribute }}' then lower(cast(users.{{ attribute }} as {{ truffle_type('string') }}))
            {%- endfor %}
            else {{ truffle_raise(new_attribute_message) }}
        end as attribute_value
    from audience_rules
    cross join users
),

-- each (user, rule): does the user's value satisfy it? operators: = != in >= > <= <
rule_results as (
    select
        audience_id,
        audience_name,
        unified_user_id,
        last_seen_date,
        case rule_operator
            when '=' then attribute_value = lower(rule_value)
            when '!=' then attribute_value != lower(rule_value)
            when 'in'
                then strpos(
                        concat('|', lower(rule_value), '|'),
                        concat('|', attribute_value, '|')
                    ) > 0
            when '>='
                then {{ truffle_safe_cast('attribute_value', 'float') }}
                    >= {{ truffle_safe_cast('rule_value', 'float') }}
            when '>'
                then {{ truffle_safe_cast('attribute_value', 'float') }}
                    > {{ truffle_safe_cast('rule_value', 'float') }}
            when '<='
                then {{ truffle_safe_cast('attribute_value', 'float') }}
                    <= {{ truffle_safe_cast('rule_value', 'float') }}
            when '<' then {{ truffle_safe_cast('attribute_value', 'float') }}
                < {{ truffle_safe_cast('rule_value', 'float') }}
        end as is_rule_met
    from rule_values
),

-- how many rules each audience has, and how many each user meets
audience_rule_counts as (
    select
        audience_id,
        count(*) as rule_count
    from audience_rules
    group by audience_id
),

rule_tallies as (
    select
        audience_id,
        audience_name,
        unified_user_id,
        last_seen_date,
        {{ truffle_countif('coalesce(is_rule_met, false)') }} as rules_met
    from rule_results
    group by audience_id, audience_name, unified_user_id, last_seen_date
),

-- a member meets every rule of the audience
members as (
    select
        rule_tallies.audience_id,
        rule_tallies.audience_name,
        rule_tallies.unified_user_id,
        rule_tallies.last_seen_date
    from rule_tallies
    inner join audience_rule_counts
        on rule_tallies.audience_id = audience_rule_counts.audience_id
    where rule_tallies.rules_met = audience_rule_counts.rule_count
),

final as (
    select
        {{ truffle_hash_key(['audience_id', 'unified_user_id']) }} as audience_member_key,
        audience_id,
        audience_name,
        unified_user_id,
        last_seen_date
    from members
)

select * from final
