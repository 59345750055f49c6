{{ config(materialized='view') }}

with

users as (
    select * from {{ ref('user_attributes') }}
),

audience_rules as (
    select * from {{ ref('audiences') }}
),

-- one row per user and attribute, the value as text, so a rule is a join, not SQL to edit
user_attribute_values as (
    {%- for attribute, kind in audience_attributes().items() %}
        select
            unified_user_id,
            '{{ attribute }}' as attribute,
            lower(cast({{ attribute }} as {{ truffle_type('string') }})) as attribute_value
        from users
        {%- if not loop.last %}
            union all
        {%- endif -%}
    {% endfor %}
),

-- each (user, rule): does the user's value satisfy it? operators: = != in >= > <= <
rule_results as (
    select
        audience_rules.audience_id,
        audience_rules.audience_name,
        user_attribute_values.unified_user_id,
        case audience_rules.operator
            when '=' then user_attribute_values.attribute_value = lower(audience_rules.value)
            when '!=' then user_attribute_values.attribute_value != lower(audience_rules.value)
            when 'in'
                then strpos(
                        concat('|', lower(audience_rules.value), '|'),
                        concat('|', user_attribute_values.attribute_value, '|')
                    ) > 0
            when '>='
                then {{ truffle_safe_cast('user_attribute_values.attribute_value', 'float') }}
                    >= {{ truffle_safe_cast('audience_rules.value', 'float') }}
            when '>'
                then {{ truffle_safe_cast('user_attribute_values.attribute_value', 'float') }}
                    > {{ truffle_safe_cast('audience_rules.value', 'float') }}
            when '<='
                then {{ truffle_safe_cast('user_attribute_values.attribute_value', 'float') }}
                    <= {{ truffle_safe_cast('audience_rules.value', 'float') }}
            when '<' then {{ truffle_safe_cast('user_attribute_values.attribute_value', 'float') }}
                < {{ truffle_safe_cast('audience_rules.value', 'float') }}
        end as is_rule_met
    from audience_rules
    inner join user_attribute_values
        on audience_rules.attribute = user_attribute_values.attribute
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
        {{ truffle_countif('coalesce(is_rule_met, false)') }} as rules_met
    from rule_results
    group by audience_id, audience_name, unified_user_id
),

-- a member meets every rule of the audience
members as (
    select
        rule_tallies.audience_id,
        rule_tallies.audience_name,
        rule_tallies.unified_user_id
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
        unified_user_id
    from members
)

select * from final
